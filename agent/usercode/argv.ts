// Checks of argv and env before anything is spawned, for runs and shells alike: no NUL bytes,
// valid variable names, and a size the kernel's execve() takes (so a request fails with a
// precise reason instead of a spawn's E2BIG).
import { rpcError } from '../server/errors.js';

/** Linux's MAX_ARG_STRLEN: one argv or environment string, its NUL included. */
export const MAX_ARG_STRLEN = 32 * 4096;
/**
 * What execve() takes in all (strings + pointers) is a quarter of the stack limit, 2 MiB
 * with the usual 8 MiB; 128 KiB of it stay for the base environment and the interpreter's
 * or gate's own arguments.
 */
export const MAX_EXEC_BYTES = (2 << 20) - (128 << 10);

const short = (key: string) => JSON.stringify(key.length > 40 ? `${key.slice(0, 40)}...` : key);

/** Refuses NUL bytes in argv entries, naming `field[i]`. */
export function checkStrings(field: string, values: readonly string[]): void {
  values.forEach((value, i) => {
    if (value.includes('\0'))
      throw rpcError('FIELD_INVALID', `${field}[${i}] contains a NUL byte; arguments cannot hold NUL`, { field: `${field}[${i}]` });
  });
}

/** Refuses invalid variable names and NUL bytes in values. */
export function checkEnv(field: string, env: Record<string, string>): void {
  for (const [key, value] of Object.entries(env)) {
    if (key === '' || key.includes('=') || key.includes('\0')) {
      throw rpcError('FIELD_INVALID', `${field} key ${short(key)} is invalid: a variable name must be non-empty and hold no "=" or NUL`, {
        field,
      });
    }
    if (value.includes('\0'))
      throw rpcError('FIELD_INVALID', `${field}[${short(key)}] contains a NUL byte; values cannot hold NUL`, { field });
  }
}

/** The bytes argv + env take: as counted against `maxBytes`, and as execve() counts them (with pointers). */
export function execSize(
  strings: readonly string[],
  env: Record<string, string>,
): { bytes: number; execBytes: number; longest?: { field: string; size: number } } {
  let bytes = 0;
  let execBytes = 0;
  let longest: { field: string; size: number } | undefined;
  const count = (field: string, size: number) => {
    if (!longest || size > longest.size) longest = { field, size };
    bytes += size + 1;
    execBytes += size + 1 + 8;
  };
  strings.forEach((s, i) => count(`[${i}]`, Buffer.byteLength(s)));
  for (const [k, v] of Object.entries(env)) count(`env[${short(k)}]`, Buffer.byteLength(k) + Buffer.byteLength(v) + 1);
  return { bytes, execBytes, ...(longest ? { longest } : {}) };
}

/**
 * argv + env must fit in `maxBytes` (--max-source-bytes) and in what execve() takes; `what`
 * names the argv field ('argv', 'args', 'start.command').
 */
export function checkExecSize(what: string, strings: readonly string[], env: Record<string, string>, maxBytes: number): void {
  const { bytes, execBytes, longest } = execSize(strings, env);
  if (longest && longest.size + 1 > MAX_ARG_STRLEN) {
    const field = longest.field.startsWith('[') ? `${what}${longest.field}` : longest.field;
    throw rpcError(
      'ARGS_TOO_LARGE',
      `${field} is ${longest.size} bytes; the kernel takes at most ${MAX_ARG_STRLEN - 1} bytes per argument or environment string`,
      {
        field,
        limit: String(MAX_ARG_STRLEN - 1),
      },
    );
  }
  if (bytes > maxBytes) {
    throw rpcError(
      'ARGS_TOO_LARGE',
      `${what} and env total ${bytes} bytes, over this agent's limit of ${maxBytes} bytes (--max-source-bytes)`,
      {
        field: what,
        flag: '--max-source-bytes',
        limit: String(maxBytes),
      },
    );
  }
  if (execBytes > MAX_EXEC_BYTES) {
    throw rpcError(
      'ARGS_TOO_LARGE',
      `${what} and env total ${execBytes} bytes (with pointers), over the ${MAX_EXEC_BYTES} bytes a program can be started with (the kernel's ARG_MAX)`,
      {
        field: what,
        limit: String(MAX_EXEC_BYTES),
      },
    );
  }
}
