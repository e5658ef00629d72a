// Wire results (Started, StageResult) → the SDK's RunResult and StageResult, with the output
// the call collected.
import {
  Stage,
  Status,
  type RunLimits,
  type StageResult as StageResultMessage,
  type Started,
} from '../../proto/gen/runbox/v1/process_pb.js';
import { concat, lazyText, type StreamCollector } from '../transport/collect.js';
import type { EffectiveLimits, RunResult, RunStatus, StageResult } from './types.js';

const STATUS: Record<Status, RunStatus> = {
  [Status.UNSPECIFIED]: 'internal_error',
  [Status.EXITED]: 'exited',
  [Status.SIGNALED]: 'signaled',
  [Status.TIMED_OUT]: 'timed_out',
  [Status.MEMORY_LIMIT]: 'memory_limit',
  [Status.COMPILE_ERROR]: 'compile_error',
  [Status.CANCELLED]: 'cancelled',
  [Status.INTERNAL_ERROR]: 'internal_error',
};

export function effectiveLimits(limits: RunLimits | undefined): EffectiveLimits {
  return {
    timeoutMs: Number(limits?.timeoutMs ?? 0n),
    compileTimeoutMs: Number(limits?.compileTimeoutMs ?? 0n),
    outputLimitBytes: Number(limits?.outputLimitBytes ?? 0n),
    memoryBytes: Number(limits?.memoryBytes ?? 0n),
    maxProcesses: limits?.maxProcesses ?? 0,
  };
}

export function stageResult(message: StageResultMessage, streams: { stdout: StreamCollector; stderr: StreamCollector }): StageResult {
  const stdoutBytes = streams.stdout.finish();
  const stderrBytes = streams.stderr.finish();
  const stdout = lazyText(() => stdoutBytes);
  const stderr = lazyText(() => stderrBytes);
  return {
    stage: message.stage === Stage.COMPILE ? 'compile' : 'run',
    status: STATUS[message.status] ?? 'internal_error',
    exitCode: message.exitCode,
    signal: message.signal || undefined,
    durationMs: Number(message.wallMs),
    cpuMs: Number(message.cpuMs),
    peakMemoryBytes: Number(message.peakMemoryBytes),
    get stdout() {
      return stdout();
    },
    get stderr() {
      return stderr();
    },
    stdoutBytes,
    stderrBytes,
    stdoutTruncated: message.stdoutTruncated || streams.stdout.overLimit,
    stderrTruncated: message.stderrTruncated || streams.stderr.overLimit,
    stdoutTotalBytes: Number(message.stdoutBytes),
    stderrTotalBytes: Number(message.stderrBytes),
    processLimitHit: message.processLimitHit,
    message: message.message,
  };
}

export function runResult(started: Started, compile: StageResult | undefined, run: StageResult | undefined): RunResult {
  const stages = [compile, run].filter((s): s is StageResult => s !== undefined);
  const last = run ?? compile;
  const stdoutBytes = concat(stages.map((s) => s.stdoutBytes));
  const stderrBytes = concat(stages.map((s) => s.stderrBytes));
  let stdout: string | undefined;
  let stderr: string | undefined;
  return {
    runId: started.runId,
    language: started.language,
    version: started.version,
    status: last?.status ?? 'internal_error',
    exitCode: last?.exitCode ?? -1,
    signal: last?.signal,
    // Each stage's text decodes on its own: a stage boundary never joins two characters.
    get stdout() {
      return (stdout ??= stages.map((s) => s.stdout).join(''));
    },
    get stderr() {
      return (stderr ??= stages.map((s) => s.stderr).join(''));
    },
    stdoutBytes,
    stderrBytes,
    stdoutTruncated: stages.some((s) => s.stdoutTruncated),
    stderrTruncated: stages.some((s) => s.stderrTruncated),
    durationMs: stages.reduce((n, s) => n + s.durationMs, 0),
    cpuMs: stages.reduce((n, s) => n + s.cpuMs, 0),
    peakMemoryBytes: Math.max(0, ...stages.map((s) => s.peakMemoryBytes)),
    message: stages
      .map((s) => s.message)
      .filter(Boolean)
      .join('; '),
    compileCached: started.compileCached,
    limits: effectiveLimits(started.limits),
    ...(compile ? { compile } : {}),
    ...(run ? { run } : {}),
  };
}
