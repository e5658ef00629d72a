// PLACEHOLDER (files engineer replaces this file): FilesService.
import * as grpc from '@grpc/grpc-js';
import type { ImplementationOf } from '../proto/grpc.js';
import type { FilesService } from '../proto/gen/runbox/v1/files_pb.js';
import type { AgentContext } from './context.js';

const details = 'not implemented yet';
const unary = (_call: unknown, callback: grpc.sendUnaryData<never>) => callback({ code: grpc.status.UNIMPLEMENTED, details });
export function filesService(_ctx: AgentContext): ImplementationOf<typeof FilesService> {
  return {
    readFile: (call) => call.emit('error', { code: grpc.status.UNIMPLEMENTED, details }),
    writeFile: unary,
    listDir: unary,
    stat: unary,
    remove: unary,
    makeDir: unary,
  };
}
