// The start message of a run, built from the caller's options: the fields RunCode and Exec
// share (env, cwd, stdin, limits). Bad option values are refused here, before any call.
import { create } from '@bufbuild/protobuf';
import { RunLimitsSchema, type RunLimits } from '../../proto/gen/runbox/v1/process_pb.js';
import { nonNegativeOption } from '../transport/options.js';
import type { ProcessOptions, RunLimitOptions } from './types.js';

const encoder = new TextEncoder();
export const toBytes = (data: string | Uint8Array) => (typeof data === 'string' ? encoder.encode(data) : data);

export function isAsyncIterable(value: unknown): value is AsyncIterable<string | Uint8Array> {
  return typeof value === 'object' && value !== null && Symbol.asyncIterator in value;
}

/** The start fields RunCode and Exec share: env, cwd, stdin (bytes now, or a stream later), limits. */
export function commonStart(options: ProcessOptions) {
  const { stdin } = options;
  const streamed = stdin !== undefined && isAsyncIterable(stdin);
  return {
    env: options.env ?? {},
    cwd: options.cwd ?? '',
    stdin: stdin === undefined || isAsyncIterable(stdin) ? new Uint8Array() : toBytes(stdin),
    keepStdinOpen: Boolean(options.keepStdinOpen) || streamed,
    limits: limitsRequest(options, options.keepOutput === false && options.outputLimitBytes === undefined),
  };
}

/** `unlimitedOutput`: ask the agent for every byte (a caller that keeps none of it). */
export function limitsRequest(options: RunLimitOptions, unlimitedOutput = false): RunLimits {
  const n = (v: number | undefined, name: string) => nonNegativeOption(v, name) ?? 0;
  return create(RunLimitsSchema, {
    timeoutMs: BigInt(n(options.timeoutMs, 'timeoutMs')),
    compileTimeoutMs: BigInt(n(options.compileTimeoutMs, 'compileTimeoutMs')),
    outputLimitBytes: BigInt(n(options.outputLimitBytes, 'outputLimitBytes')),
    memoryBytes: BigInt(n(options.memoryBytes, 'memoryBytes')),
    maxProcesses: n(options.maxProcesses, 'maxProcesses'),
    unlimitedOutput,
  });
}
