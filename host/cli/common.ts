// Shared plumbing of the CLI verbs: flag parsing with usage on error, connecting, exit codes.
import { readFileSync } from 'node:fs';
import { printable } from './printable.js';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { Sandbox } from '../sandbox.js';
import { RunboxError } from '../errors.js';
import { UsageError } from './exit.js';
import type { CliIo } from './io.js';

export { EXIT, UsageError, runVerb } from './exit.js';

export type Options = NonNullable<ParseArgsConfig['options']>;

/** Flags every verb that talks to an agent takes. */
export const TARGET_OPTIONS = {
  target: { type: 'string', short: 't' },
  'token-file': { type: 'string' },
  'wait-ms': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies Options;

export const TARGET_USAGE = `  -t, --target T       the agent: tcp://HOST:PORT, unix:///PATH or vsock:///PATH:PORT
                       (default: $RUNBOX_TARGET)
      --token-file F   file holding the agent's token (default: $RUNBOX_TOKEN_FILE)
      --wait-ms N      wait up to N ms for the agent to answer (default 10000)
  -h, --help           show this help`;

export function parse<O extends Options>(argv: string[], options: O, allowPositionals = true) {
  try {
    return parseArgs({ args: argv, options, allowPositionals, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

export function intFlag(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw new UsageError(`--${name} ${value}: expected a non-negative integer`);
  return n;
}

/** One of `allowed`, or a usage error listing them. */
export function choice<T extends string>(flag: string, value: string | undefined, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(value)) throw new UsageError(`--${flag} ${value}: expected ${allowed.join(' or ')}`);
  return value as T;
}

/** The token in `file`, else in $RUNBOX_TOKEN_FILE of `env`; undefined when neither is given. */
export function readToken(file: string | undefined, env: CliIo['env']): string | undefined {
  const path = file ?? env.RUNBOX_TOKEN_FILE;
  if (!path) return undefined;
  try {
    // As the agent reads it: the bytes up to the first NUL (a zero-padded disk works), trimmed.
    return readFileSync(path, 'utf8').split('\0')[0]!.trim();
  } catch (error) {
    throw new RunboxError(`--token-file ${path}: ${(error as Error).message}`);
  }
}

/** Repeated --env NAME=VALUE flags as an environment; a pair without a name is a usage error. */
export function parseEnv(pairs: string[] | undefined): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of pairs ?? []) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`--env ${pair}: expected NAME=VALUE`);
    env[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return env;
}

/** --target, else $RUNBOX_TARGET. */
export function targetOf(values: { target?: string }, io: CliIo): string | undefined {
  return values.target ?? io.env.RUNBOX_TARGET;
}

/** Connects to --target and waits until the agent answers, so later errors are about the work. */
export async function connect(values: { target?: string; 'token-file'?: string; 'wait-ms'?: string }, io: CliIo): Promise<Sandbox> {
  const target = targetOf(values, io);
  if (!target) throw new UsageError('--target is required (or set RUNBOX_TARGET), e.g. --target tcp://172.16.0.2:5000');
  const sandbox = await Sandbox.connect(target, { token: readToken(values['token-file'], io.env) });
  try {
    await sandbox.waitReady({ timeoutMs: intFlag('wait-ms', values['wait-ms']) ?? 10_000 });
  } catch (error) {
    await sandbox.close();
    throw error;
  }
  return sandbox;
}

export function printJson(io: CliIo, value: unknown): void {
  // JSON.stringify escapes C0 controls but not DEL or C1: printable's \u00XX escapes are JSON too.
  io.stdout.write(printable(JSON.stringify(value, null, 2)) + '\n');
}

/** A size in whole MiB, as the listings print it. */
export const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
