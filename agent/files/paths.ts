// Paths the files API accepts: absolute, no NUL, bounded. Nothing is normalised: the kernel
// resolves `..` and symlinks as the run-as user, so permissions decide, not string checks.
import path from 'node:path';
import { rpcError } from '../server/errors.js';

const MAX_PATH_BYTES = 4096;

export function checkPath(field: string, value: string): string {
  if (value === '')
    throw rpcError('PATH_INVALID', `${field}: must not be empty; give an absolute path such as /home/runbox/file.txt`, { field });
  if (value.includes('\0')) throw rpcError('PATH_INVALID', `${field} ${JSON.stringify(value)}: contains a NUL byte`, { field });
  if (!path.isAbsolute(value))
    throw rpcError('PATH_INVALID', `${field} ${JSON.stringify(value)}: must be absolute (start with /)`, { field });
  if (Buffer.byteLength(value) > MAX_PATH_BYTES)
    throw rpcError('PATH_INVALID', `${field}: ${Buffer.byteLength(value)} bytes, at most ${MAX_PATH_BYTES}`, {
      field,
      limit: String(MAX_PATH_BYTES),
    });
  return value;
}

export function checkMode(field: string, mode: number): number {
  if (mode > 0o7777) throw rpcError('MODE_INVALID', `${field} ${mode.toString(8)}: permission bits must be at most 07777`, { field });
  return mode;
}
