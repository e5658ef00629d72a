// The two RPCs (RunCode, Exec) differ only in their message types: a Responder wraps each
// run event in the right response message (Output is encoded directly, output-wire.ts). Also
// the status names the run log uses.
import { create } from '@bufbuild/protobuf';
import {
  ExecResponseSchema,
  RunCodeResponseSchema,
  StageResultSchema,
  StartedSchema,
  Stage,
  Status,
  type Finished,
  type RunLimits,
  type StageResult,
  type Started,
} from '../../proto/gen/runbox/v1/process_pb.js';
import type { LanguageInfo } from '../languages/languages.js';

/** The two RPCs differ only in their message types; this maps events to each one's response. */
export interface Responder {
  started(value: Started): unknown;
  stageResult(value: StageResult): unknown;
  finished(value: Finished): unknown;
}

export const runCodeResponder: Responder = {
  started: (value) => create(RunCodeResponseSchema, { event: { case: 'started', value } }),
  stageResult: (value) => create(RunCodeResponseSchema, { event: { case: 'stageResult', value } }),
  finished: (value) => create(RunCodeResponseSchema, { event: { case: 'finished', value } }),
};

export const execResponder: Responder = {
  started: (value) => create(ExecResponseSchema, { event: { case: 'started', value } }),
  stageResult: () => undefined, // Exec has no compile stage
  finished: (value) => create(ExecResponseSchema, { event: { case: 'finished', value } }),
};

/** Started: the run's id, its language and version ('' for exec), effective limits, cache hit. */
export function startedMessage(runId: string, language: LanguageInfo | undefined, limits: RunLimits, compileCached: boolean): Started {
  return create(StartedSchema, { runId, language: language?.name ?? '', version: language?.version ?? '', limits, compileCached });
}

export function internalResult(stage: Stage, message: string): StageResult {
  return create(StageResultSchema, { stage, status: Status.INTERNAL_ERROR, exitCode: -1, message });
}

export const STATUS_NAMES: Record<Status, string> = {
  [Status.UNSPECIFIED]: 'unspecified',
  [Status.EXITED]: 'exited',
  [Status.SIGNALED]: 'signaled',
  [Status.TIMED_OUT]: 'timed_out',
  [Status.MEMORY_LIMIT]: 'memory_limit',
  [Status.COMPILE_ERROR]: 'compile_error',
  [Status.CANCELLED]: 'cancelled',
  [Status.INTERNAL_ERROR]: 'internal_error',
};
