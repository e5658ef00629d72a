// errno → gRPC status for file operations; every message names the operation and the path.
import * as grpc from '@grpc/grpc-js';
import { StatusError } from '../server/errors.js';
import type { WorkerFailure } from './protocol.js';

const BY_ERRNO: Record<string, [grpc.status, string]> = {
  ENOENT: [grpc.status.NOT_FOUND, 'no such file or directory'],
  EACCES: [grpc.status.PERMISSION_DENIED, 'permission denied'],
  EPERM: [grpc.status.PERMISSION_DENIED, 'operation not permitted'],
  EROFS: [grpc.status.PERMISSION_DENIED, 'read-only file system'],
  EEXIST: [grpc.status.ALREADY_EXISTS, 'already exists'],
  ENOSPC: [grpc.status.RESOURCE_EXHAUSTED, 'no space left on device'],
  EDQUOT: [grpc.status.RESOURCE_EXHAUSTED, 'disk quota exceeded'],
  EFBIG: [grpc.status.RESOURCE_EXHAUSTED, 'file too large'],
  EMFILE: [grpc.status.RESOURCE_EXHAUSTED, 'too many open files'],
  E2BIG: [grpc.status.RESOURCE_EXHAUSTED, 'directory has more entries than ListDir returns (100000)'],
  ENOTDIR: [grpc.status.FAILED_PRECONDITION, 'a component of the path is not a directory'],
  EISDIR: [grpc.status.FAILED_PRECONDITION, 'is a directory'],
  ENOTEMPTY: [grpc.status.FAILED_PRECONDITION, 'directory not empty (remove it with recursive)'],
  ENOTREG: [grpc.status.FAILED_PRECONDITION, 'not a regular file (FIFOs and sockets are not transferred)'],
  ENXIO: [grpc.status.FAILED_PRECONDITION, 'no such device or reader'],
  ELOOP: [grpc.status.FAILED_PRECONDITION, 'too many levels of symbolic links'],
  ENAMETOOLONG: [grpc.status.INVALID_ARGUMENT, 'file name too long'],
  EINVAL: [grpc.status.INVALID_ARGUMENT, 'invalid argument'],
};

export function failureToStatus(operation: string, path: string, failure: WorkerFailure): StatusError {
  const known = BY_ERRNO[failure.code];
  const where = `${operation} ${JSON.stringify(path)}`;
  if (known) return new StatusError(known[0], `${where}: ${known[1]} (${failure.code})`);
  if (failure.code === 'EWORKER') return new StatusError(grpc.status.UNAVAILABLE, `${where}: ${failure.message}; retry`);
  return new StatusError(grpc.status.INTERNAL, `${where}: ${failure.message} (${failure.code})`);
}
