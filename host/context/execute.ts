// One Execute call: the cell's events as they arrive (output to the listeners, results and the
// error to theirs) and, at its end, the Execution. Output and results are kept only up to the
// limits the agent announced in Started.
import { create } from '@bufbuild/protobuf';
import type * as grpc from '@grpc/grpc-js';
import { serverStreamCall } from '../../proto/grpc.js';
import { OutputStream } from '../../proto/gen/runbox/v1/process_pb.js';
import {
  ContextService,
  ExecuteRequestSchema,
  ExecutionStatus as WireStatus,
  type ExecuteFinished,
  type ExecuteResponse,
  type ExecuteStarted,
} from '../../proto/gen/runbox/v1/context_pb.js';
import { AbortError, AgentError, type RunboxError } from '../errors.js';
import { StreamCollector, lazyText } from '../transport/collect.js';
import { cancelOnAbort, throwIfAborted } from '../transport/calls.js';
import type { Connection } from '../transport/connection.js';
import { keptBytes } from '../transport/options.js';
import { fromGrpcError } from '../transport/grpc-errors.js';
import { ResultAssembler } from './result.js';
import type { ContextResult, Execution, ExecutionError, ExecutionStatus, RunCellOptions } from './types.js';

const STATUSES: Record<WireStatus, ExecutionStatus> = {
  [WireStatus.UNSPECIFIED]: 'error',
  [WireStatus.OK]: 'ok',
  [WireStatus.ERROR]: 'error',
  [WireStatus.TIMED_OUT]: 'timed_out',
  [WireStatus.INTERRUPTED]: 'interrupted',
  [WireStatus.CONTEXT_DIED]: 'context_died',
};

const toBytes = (code: string) => new TextEncoder().encode(code);

/** Everything one call has received so far. */
class CellState {
  readonly stdout = new StreamCollector();
  readonly stderr = new StreamCollector();
  readonly results = new ResultAssembler();
  readonly kept: ContextResult[] = [];
  error: ExecutionError | undefined;
  started: ExecuteStarted | undefined;
  finished: ExecuteFinished | undefined;

  constructor(private readonly options: RunCellOptions) {}

  take(response: ExecuteResponse): void {
    const { event } = response;
    switch (event.case) {
      case 'started':
        this.started = event.value;
        this.stdout.limit = this.stderr.limit = keptBytes(this.options.outputLimitBytes, Number(event.value.outputLimitBytes));
        this.results.limit = keptBytes(this.options.resultLimitBytes, Number(event.value.resultLimitBytes));
        break;
      case 'output': {
        const stderr = event.value.stream === OutputStream.STDERR;
        const listener = stderr ? this.options.onStderr : this.options.onStdout;
        const text = (stderr ? this.stderr : this.stdout).push(event.value.data, listener !== undefined);
        listener?.(text, event.value.data);
        break;
      }
      case 'result': {
        const result = this.results.push(event.value);
        if (result) {
          this.kept.push(result);
          this.options.onResult?.(result);
        }
        break;
      }
      case 'error':
        this.error = { name: event.value.name, value: event.value.value, traceback: event.value.traceback };
        this.options.onError?.(this.error);
        break;
      case 'finished':
        this.finished = event.value;
        break;
    }
  }

  execution(finished: ExecuteFinished): Execution {
    const stdout = this.stdout.finish();
    const stderr = this.stderr.finish();
    const died = finished.status === WireStatus.CONTEXT_DIED;
    const started = this.started;
    return {
      status: STATUSES[finished.status],
      executionCount: finished.executionCount,
      results: this.kept,
      text: this.kept.find((r) => r.isMain)?.text,
      error: this.error,
      stdout: lazyText(() => stdout)(),
      stderr: lazyText(() => stderr)(),
      stdoutTruncated: finished.stdoutTruncated || this.stdout.overLimit,
      stderrTruncated: finished.stderrTruncated || this.stderr.overLimit,
      stdoutTotalBytes: Number(finished.stdoutBytes),
      stderrTotalBytes: Number(finished.stderrBytes),
      resultsTruncated: finished.resultsTruncated || this.results.overLimit,
      durationMs: Number(finished.wallMs),
      message: finished.message,
      death: died ? { exitCode: finished.exitCode, signal: finished.signal || undefined, memoryLimit: finished.memoryLimit } : undefined,
      limits: {
        timeoutMs: Number(started?.timeoutMs ?? 0),
        outputLimitBytes: Number(started?.outputLimitBytes ?? 0),
        resultLimitBytes: Number(started?.resultLimitBytes ?? 0),
      },
    };
  }
}

/** Runs `code` in context `contextId`; resolves with the Execution once the cell is over. */
export function executeCell(connection: Connection, contextId: string, code: string, options: RunCellOptions = {}): Promise<Execution> {
  const what = `run in context ${contextId}`;
  throwIfAborted(options.signal, what);
  const request = create(ExecuteRequestSchema, {
    contextId,
    code: toBytes(code),
    timeoutMs: BigInt(options.timeoutMs ?? 0),
    outputLimitBytes: BigInt(options.outputLimitBytes ?? 0),
    resultLimitBytes: BigInt(options.resultLimitBytes ?? 0),
  });
  const call = connection.track(serverStreamCall(connection.client, ContextService.method.execute, request, connection.context()));
  const detach = cancelOnAbort(options.signal, call);
  const state = new CellState(options);
  return new Promise<Execution>((resolve, reject) => {
    const fail = (error: RunboxError) => {
      detach();
      reject(error);
    };
    call.on('data', (response: ExecuteResponse) => state.take(response));
    call.on('error', (error: grpc.ServiceError) => {
      if (options.signal?.aborted)
        fail(new AbortError(`${what}: aborted; the cell was interrupted, the context lives on`, { cause: error }));
      else if (connection.closed) fail(new AbortError(`${what}: the Sandbox was closed`, { cause: error, reason: 'SANDBOX_CLOSED' }));
      else fail(fromGrpcError(error, what));
    });
    call.on('end', () => {
      detach();
      if (state.finished) resolve(state.execution(state.finished));
      else reject(new AgentError(`${what}: the agent ended the call without saying how the cell ended`));
    });
  });
}
