// PLACEHOLDER (shell engineer replaces this file): ShellService on node-pty.
import * as grpc from '@grpc/grpc-js';
import type { ImplementationOf } from '../proto/grpc.js';
import type { ShellService } from '../proto/gen/runbox/v1/shell_pb.js';
import type { AgentContext } from './context.js';

const details = 'not implemented yet';
export function shellService(_ctx: AgentContext): ImplementationOf<typeof ShellService> {
  return {
    shell: (call) => call.emit('error', { code: grpc.status.UNIMPLEMENTED, details }),
    listShells: (_call, callback) => callback({ code: grpc.status.UNIMPLEMENTED, details }),
  };
}
