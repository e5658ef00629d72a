// PLACEHOLDER (runner engineer replaces this file): ProcessService (RunCode, Exec).
import * as grpc from '@grpc/grpc-js';
import type { ImplementationOf } from '../proto/grpc.js';
import type { ProcessService } from '../proto/gen/runbox/v1/process_pb.js';
import type { AgentContext } from './context.js';

export function processService(_ctx: AgentContext): ImplementationOf<typeof ProcessService> {
  const unimplemented = (call: grpc.ServerDuplexStream<unknown, unknown>) =>
    call.emit('error', { code: grpc.status.UNIMPLEMENTED, details: 'not implemented yet' });
  return { runCode: unimplemented, exec: unimplemented };
}
