// Validates a RunCodeStart / ExecStart into a plan, or throws an RpcError naming the field
// that is wrong and what is allowed. Limits get defaults and are clamped here.
import { statSync } from 'node:fs';
import path from 'node:path';
import { create } from '@bufbuild/protobuf';
import { RunLimitsSchema, type ExecStart, type RunCodeStart, type RunLimits } from '../../proto/gen/runbox/v1/process_pb.js';
import type { AgentContext } from '../core/context.js';
import type { LanguageSpec } from '../languages/languages.js';
import { rpcError } from '../server/errors.js';
import { checkEnv, checkExecSize, checkStrings } from '../usercode/argv.js';
import { effectiveLimit, treeLimits } from '../limits/effective.js';

/** Effective per-run limits, numbers in ms/bytes. */
export interface EffectiveLimits {
  timeoutMs: number;
  compileTimeoutMs: number;
  /** Infinity with unlimited_output: every byte is sent. */
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

/** unlimited_output counts only with output_limit_bytes left at 0: an explicit limit wins. */
const unlimitedOutput = (requested: RunLimits | undefined) => requested?.unlimitedOutput === true && !requested.outputLimitBytes;

export function effectiveLimits(ctx: AgentContext, requested: RunLimits | undefined): EffectiveLimits {
  const { defaults: d, maximums: m } = ctx.config;
  return {
    timeoutMs: effectiveLimit(requested?.timeoutMs, d.timeoutMs, m.timeoutMs),
    compileTimeoutMs: effectiveLimit(requested?.compileTimeoutMs, d.compileTimeoutMs, m.compileTimeoutMs),
    outputLimitBytes: unlimitedOutput(requested)
      ? Number.POSITIVE_INFINITY
      : effectiveLimit(requested?.outputLimitBytes, d.outputLimitBytes, m.outputLimitBytes),
    ...treeLimits(ctx.config, ctx.limits, requested),
  };
}

export function limitsMessage(limits: EffectiveLimits): RunLimits {
  const unlimited = limits.outputLimitBytes === Number.POSITIVE_INFINITY;
  return create(RunLimitsSchema, {
    timeoutMs: BigInt(limits.timeoutMs),
    compileTimeoutMs: BigInt(limits.compileTimeoutMs),
    outputLimitBytes: unlimited ? 0n : BigInt(limits.outputLimitBytes),
    unlimitedOutput: unlimited,
    memoryBytes: BigInt(limits.memoryBytes),
    maxProcesses: limits.maxProcesses,
  });
}

function checkCwd(cwd: string): string | undefined {
  if (cwd === '') return undefined;
  if (cwd.includes('\0')) throw rpcError('CWD_INVALID', 'cwd contains a NUL byte', { field: 'cwd' });
  if (!path.isAbsolute(cwd)) throw rpcError('CWD_INVALID', `cwd ${JSON.stringify(cwd)} must be an absolute path`, { field: 'cwd' });
  let isDirectory = false;
  try {
    isDirectory = statSync(cwd).isDirectory();
  } catch {
    /* reported below */
  }
  if (!isDirectory) throw rpcError('CWD_INVALID', `cwd ${JSON.stringify(cwd)} does not exist or is not a directory`, { field: 'cwd' });
  return cwd;
}

function availableLanguages(ctx: AgentContext): string {
  const list = ctx.languages.list();
  if (list.length === 0) return 'none (no toolchain was found on this machine)';
  return list.map((l) => (l.aliases.length ? `${l.name} (${l.aliases.join(', ')})` : l.name)).join(', ');
}

export function planRunCode(ctx: AgentContext, start: RunCodeStart): RunCodePlan {
  if (start.language === '')
    throw rpcError('LANGUAGE_UNKNOWN', `language is required; available: ${availableLanguages(ctx)}`, { field: 'language' });
  const language = ctx.languages.spec(start.language);
  if (!language) {
    throw rpcError(
      'LANGUAGE_UNKNOWN',
      `language ${JSON.stringify(start.language)} is not available on this agent; available: ${availableLanguages(ctx)}`,
      {
        field: 'language',
        language: start.language,
      },
    );
  }
  if (start.source.length > ctx.config.maxSourceBytes) {
    throw rpcError(
      'SOURCE_TOO_LARGE',
      `source is ${start.source.length} bytes, over this agent's limit of ${ctx.config.maxSourceBytes} bytes (--max-source-bytes)`,
      {
        field: 'source',
        flag: '--max-source-bytes',
        limit: String(ctx.config.maxSourceBytes),
      },
    );
  }
  checkStrings('args', start.args);
  checkEnv('env', start.env);
  checkExecSize('args', start.args, start.env, ctx.config.maxSourceBytes);
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
  if (start.argv.length === 0) throw rpcError('FIELD_INVALID', 'argv is empty: give at least the command, argv[0]', { field: 'argv' });
  if (start.argv[0] === '') throw rpcError('FIELD_INVALID', 'argv[0] is empty: it must name the command to run', { field: 'argv[0]' });
  checkStrings('argv', start.argv);
  checkEnv('env', start.env);
  checkExecSize('argv', start.argv, start.env, ctx.config.maxSourceBytes);
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
