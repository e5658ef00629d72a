// Validates a RunCodeStart / ExecStart into a plan, or throws a RequestError naming the
// field that is wrong and what is allowed. Limits get defaults and are clamped here.
import { statSync } from 'node:fs';
import path from 'node:path';
import { create } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import { RunLimitsSchema, type ExecStart, type RunCodeStart, type RunLimits } from '../../proto/gen/runbox/v1/process_pb.js';
import type { AgentContext } from '../core/context.js';
import type { LanguageSpec } from '../languages/languages.js';

/** A request the agent refuses, with the gRPC status to refuse it with. */
export class RequestError extends Error {
  constructor(
    readonly code: grpc.status,
    message: string,
  ) {
    super(message);
  }
}

const invalid = (message: string) => new RequestError(grpc.status.INVALID_ARGUMENT, message);

/** Effective per-run limits, numbers in ms/bytes. */
export interface EffectiveLimits {
  timeoutMs: number;
  compileTimeoutMs: number;
  outputLimitBytes: number;
  /** 0 when the limits backend cannot enforce it. */
  memoryBytes: number;
  /** 0 when the limits backend cannot enforce it. */
  maxProcesses: number;
}

interface CommonPlan {
  env: Record<string, string>;
  /** Absolute, existing directory; undefined = the run's private directory. */
  cwd: string | undefined;
  stdin: Uint8Array;
  keepStdinOpen: boolean;
  limits: EffectiveLimits;
}

export interface RunCodePlan extends CommonPlan {
  kind: 'runCode';
  language: LanguageSpec;
  source: Uint8Array;
  args: string[];
}

export interface ExecPlan extends CommonPlan {
  kind: 'exec';
  argv: string[];
}

export type RunPlan = RunCodePlan | ExecPlan;

function effective(requested: bigint | number | undefined, fallback: number, maximum: number): number {
  const value = Number(requested ?? 0);
  return value === 0 ? fallback : Math.min(value, maximum);
}

export function effectiveLimits(ctx: AgentContext, requested: RunLimits | undefined): EffectiveLimits {
  const { defaults: d, maximums: m } = ctx.config;
  const enforced = ctx.limits.kind === 'cgroup_v2';
  return {
    timeoutMs: effective(requested?.timeoutMs, d.timeoutMs, m.timeoutMs),
    compileTimeoutMs: effective(requested?.compileTimeoutMs, d.compileTimeoutMs, m.compileTimeoutMs),
    outputLimitBytes: effective(requested?.outputLimitBytes, d.outputLimitBytes, m.outputLimitBytes),
    memoryBytes: enforced ? effective(requested?.memoryBytes, d.memoryBytes, m.memoryBytes) : 0,
    maxProcesses: enforced ? effective(requested?.maxProcesses, d.maxProcesses, m.maxProcesses) : 0,
  };
}

export function limitsMessage(limits: EffectiveLimits): RunLimits {
  return create(RunLimitsSchema, {
    timeoutMs: BigInt(limits.timeoutMs),
    compileTimeoutMs: BigInt(limits.compileTimeoutMs),
    outputLimitBytes: BigInt(limits.outputLimitBytes),
    memoryBytes: BigInt(limits.memoryBytes),
    maxProcesses: limits.maxProcesses,
  });
}

function checkStrings(field: string, values: readonly string[]): void {
  values.forEach((value, i) => {
    if (value.includes('\0')) throw invalid(`${field}[${i}] contains a NUL byte; arguments cannot hold NUL`);
  });
}

function checkEnv(env: Record<string, string>): void {
  for (const [key, value] of Object.entries(env)) {
    if (key === '' || key.includes('=') || key.includes('\0')) {
      throw invalid(`env key ${JSON.stringify(key)} is invalid: a variable name must be non-empty and hold no "=" or NUL`);
    }
    if (value.includes('\0')) throw invalid(`env[${JSON.stringify(key)}] contains a NUL byte; values cannot hold NUL`);
  }
}

function checkCwd(cwd: string): string | undefined {
  if (cwd === '') return undefined;
  if (cwd.includes('\0')) throw invalid('cwd contains a NUL byte');
  if (!path.isAbsolute(cwd)) throw invalid(`cwd ${JSON.stringify(cwd)} must be an absolute path`);
  let isDirectory = false;
  try {
    isDirectory = statSync(cwd).isDirectory();
  } catch {
    /* reported below */
  }
  if (!isDirectory) throw invalid(`cwd ${JSON.stringify(cwd)} does not exist or is not a directory`);
  return cwd;
}

/** Linux's MAX_ARG_STRLEN: one argv or environment string, its NUL included. */
const MAX_ARG_STRLEN = 32 * 4096;
/**
 * What execve() takes in all (strings + pointers) is a quarter of the stack limit, 2 MiB
 * with the usual 8 MiB; 128 KiB of it stay for the base environment and the interpreter's
 * or gate's own arguments. Over it, the spawn fails with E2BIG: refuse it up front instead.
 */
const MAX_EXEC_BYTES = (2 << 20) - (128 << 10);

/** argv + env must fit in --max-source-bytes, like a source does, and in what execve() takes. */
function checkSize(ctx: AgentContext, what: string, strings: string[], env: Record<string, string>): void {
  let bytes = 0;
  let execBytes = 0;
  const count = (field: string, size: number) => {
    if (size + 1 > MAX_ARG_STRLEN) {
      throw invalid(`${field} is ${size} bytes; the kernel takes at most ${MAX_ARG_STRLEN - 1} bytes per argument or environment string`);
    }
    bytes += size + 1;
    execBytes += size + 1 + 8;
  };
  strings.forEach((s, i) => count(`${what}[${i}]`, Buffer.byteLength(s)));
  for (const [k, v] of Object.entries(env)) count(`env[${JSON.stringify(k.length > 40 ? `${k.slice(0, 40)}...` : k)}]`, Buffer.byteLength(k) + Buffer.byteLength(v) + 1);
  if (bytes > ctx.config.maxSourceBytes) {
    throw invalid(`${what} and env total ${bytes} bytes, over this agent's limit of ${ctx.config.maxSourceBytes} bytes (--max-source-bytes)`);
  }
  if (execBytes > MAX_EXEC_BYTES) {
    throw invalid(`${what} and env total ${execBytes} bytes (with pointers), over the ${MAX_EXEC_BYTES} bytes a program can be started with (the kernel's ARG_MAX)`);
  }
}

function availableLanguages(ctx: AgentContext): string {
  const list = ctx.languages.list();
  if (list.length === 0) return 'none (no toolchain was found on this machine)';
  return list.map((l) => (l.aliases.length ? `${l.name} (${l.aliases.join(', ')})` : l.name)).join(', ');
}

export function planRunCode(ctx: AgentContext, start: RunCodeStart): RunCodePlan {
  if (start.language === '') throw invalid(`language is required; available: ${availableLanguages(ctx)}`);
  const language = ctx.languages.spec(start.language);
  if (!language) {
    throw invalid(`language ${JSON.stringify(start.language)} is not available on this agent; available: ${availableLanguages(ctx)}`);
  }
  if (start.source.length > ctx.config.maxSourceBytes) {
    throw invalid(`source is ${start.source.length} bytes, over this agent's limit of ${ctx.config.maxSourceBytes} bytes (--max-source-bytes)`);
  }
  checkStrings('args', start.args);
  checkEnv(start.env);
  checkSize(ctx, 'args', start.args, start.env);
  return {
    kind: 'runCode',
    language,
    source: start.source,
    args: [...start.args],
    env: { ...start.env },
    cwd: checkCwd(start.cwd),
    stdin: start.stdin,
    keepStdinOpen: start.keepStdinOpen,
    limits: effectiveLimits(ctx, start.limits),
  };
}

export function planExec(ctx: AgentContext, start: ExecStart): ExecPlan {
  if (start.argv.length === 0) throw invalid('argv is empty: give at least the command, argv[0]');
  if (start.argv[0] === '') throw invalid('argv[0] is empty: it must name the command to run');
  checkStrings('argv', start.argv);
  checkEnv(start.env);
  checkSize(ctx, 'argv', start.argv, start.env);
  return {
    kind: 'exec',
    argv: [...start.argv],
    env: { ...start.env },
    cwd: checkCwd(start.cwd),
    stdin: start.stdin,
    keepStdinOpen: start.keepStdinOpen,
    limits: effectiveLimits(ctx, start.limits),
  };
}
