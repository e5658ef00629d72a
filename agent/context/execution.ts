// One cell of a context, from the Execute call to its Finished message. It receives the
// driver's events of its cell, the cell's stdout and stderr (cut at their end markers by the
// context), and how the driver ends; it caps output and results, enforces the cell's wall-clock
// limit by interrupting it, and decides the status. It never throws at the call: a cell that
// raises, times out or kills its context is a Finished message.
import { create } from '@bufbuild/protobuf';
import { performance } from 'node:perf_hooks';
import { OutputStream } from '../../proto/gen/runbox/v1/process_pb.js';
import {
  ExecuteFinishedSchema,
  ExecuteOutputSchema,
  ExecuteResponseSchema,
  ExecutionErrorSchema,
  ExecutionStatus,
  type ExecuteResponse,
} from '../../proto/gen/runbox/v1/context_pb.js';
import { freshHex } from '../core/ids.js';
import { CappedOutput } from '../usercode/output.js';
import type { DriverEvent } from './protocol.js';
import { ResultBudget, resultMessages } from './results.js';

export interface ExecutionLimits {
  timeoutMs: number;
  outputLimitBytes: number;
  resultLimitBytes: number;
}

/** Where an execution's messages go: the Execute call, or nowhere once it was cancelled. */
export interface ExecutionSink {
  /** False when the call is congested (the context then stops reading the driver). */
  send(response: ExecuteResponse): boolean;
}

/** How the context's process ended during the cell. */
export interface Death {
  message: string;
  exitCode: number;
  signal: string;
  memoryLimit: boolean;
}

type Stream = 'stdout' | 'stderr';

const respond = (event: ExecuteResponse['event']) => create(ExecuteResponseSchema, { event });

export class Execution {
  readonly seq: number;
  /** Written by the driver to stdout and stderr after the cell; random per cell. */
  readonly marker = Buffer.from(`\u0000runbox-cell-end-${freshHex(16)}\u0000`, 'latin1');
  readonly #startedAt = performance.now();
  readonly #outputs: Record<Stream, CappedOutput>;
  readonly #budget: ResultBudget;
  #results = 0;
  #done: { status: 'ok' | 'error'; count: number } | undefined;
  #markers: Record<Stream, boolean> = { stdout: false, stderr: false };
  /** Why runbox stopped the cell early (timeout, interrupt), with what to say about it. */
  #stopped: { status: ExecutionStatus; message: string } | undefined;
  #finished = false;
  #settle!: () => void;
  /** Settles once Finished was sent (or would have been, for a cancelled call). */
  readonly finished = new Promise<void>((resolve) => (this.#settle = resolve));

  constructor(
    seq: number,
    readonly limits: ExecutionLimits,
    private sink: ExecutionSink,
  ) {
    this.seq = seq;
    this.#budget = new ResultBudget(limits.resultLimitBytes);
    const forward = (stream: OutputStream) => (pieces: Buffer[], bytes: number) => {
      const data = pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces, bytes);
      this.sink.send(respond({ case: 'output', value: create(ExecuteOutputSchema, { stream, data }) }));
    };
    this.#outputs = {
      stdout: new CappedOutput(limits.outputLimitBytes, forward(OutputStream.STDOUT)),
      stderr: new CappedOutput(limits.outputLimitBytes, forward(OutputStream.STDERR)),
    };
  }

  get done(): boolean {
    return this.#done !== undefined;
  }

  /** The client went away: the rest of the cell is not sent anywhere. */
  detach(): void {
    this.sink = { send: () => true };
  }

  /** Marks the cell as stopped by runbox; the driver is interrupted by the caller. */
  stop(status: ExecutionStatus.TIMED_OUT | ExecutionStatus.INTERRUPTED, message: string): void {
    if (!this.#stopped && !this.#finished) this.#stopped = { status, message };
  }

  output(stream: Stream, data: Buffer): void {
    this.#outputs[stream].push(data);
  }

  /** The cell's end marker went by on `stream`. */
  markerSeen(stream: Stream): void {
    this.#markers[stream] = true;
  }

  /** Both markers and `done` are in: the cell is complete. */
  get complete(): boolean {
    return this.#done !== undefined && this.#markers.stdout && this.#markers.stderr;
  }

  /** An event of this cell (the caller matched its seq). */
  event(event: DriverEvent): void {
    if (this.#finished) return;
    if (event.ev === 'display') {
      const { data, truncated } = this.#budget.take(event.data);
      for (const value of resultMessages(this.#results++, event.main, data, truncated)) this.sink.send(respond({ case: 'result', value }));
    } else if (event.ev === 'error') {
      const error = create(ExecutionErrorSchema, { name: event.name, value: event.value, traceback: event.traceback });
      this.sink.send(respond({ case: 'error', value: error }));
    } else if (event.ev === 'done') {
      this.#done = { status: event.status, count: event.count };
    }
  }

  /** A result line over the result limit was skipped unread. */
  resultDropped(bytes: number): void {
    this.#budget.dropped();
    this.#dropped = bytes;
  }
  #dropped = 0;

  /** Sends Finished: the cell's own end, or the context's death when `death` is given. */
  finish(death?: Death, note?: string): void {
    if (this.#finished) return;
    this.#finished = true;
    for (const output of Object.values(this.#outputs)) output.flush();
    const messages: string[] = [];
    let status: ExecutionStatus;
    if (death) {
      status = ExecutionStatus.CONTEXT_DIED;
      if (this.#stopped) messages.push(this.#stopped.message);
      messages.push(death.message);
    } else if (this.#stopped && this.#done?.status !== 'ok') {
      status = this.#stopped.status;
      messages.push(this.#stopped.message);
    } else {
      status = this.#done?.status === 'ok' ? ExecutionStatus.OK : ExecutionStatus.ERROR;
    }
    if (note) messages.push(note);
    for (const name of ['stdout', 'stderr'] as const) {
      const output = this.#outputs[name];
      if (output.truncated)
        messages.push(`${name} was cut at ${output.limit} bytes (output_limit_bytes); the cell wrote ${output.totalBytes}`);
    }
    if (this.#budget.truncated) {
      messages.push(
        `results over result_limit_bytes (${this.limits.resultLimitBytes}) were cut to their text${this.#dropped ? `; one of ${this.#dropped} bytes was dropped whole` : ''}`,
      );
    }
    const finished = create(ExecuteFinishedSchema, {
      status,
      executionCount: death ? 0 : (this.#done?.count ?? 0),
      wallMs: BigInt(Math.round(performance.now() - this.#startedAt)),
      stdoutTruncated: this.#outputs.stdout.truncated,
      stderrTruncated: this.#outputs.stderr.truncated,
      stdoutBytes: BigInt(this.#outputs.stdout.totalBytes),
      stderrBytes: BigInt(this.#outputs.stderr.totalBytes),
      resultsTruncated: this.#budget.truncated,
      message: messages.join('; '),
      exitCode: death?.exitCode ?? -1,
      signal: death?.signal ?? '',
      memoryLimit: death?.memoryLimit ?? false,
    });
    this.sink.send(respond({ case: 'finished', value: finished }));
    this.#settle();
  }
}
