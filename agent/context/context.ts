// One code context: its driver process, the cell running in it (at most one), and what happens
// between cells. Output of the driver's stdout and stderr is cut into cells at their end markers
// (marker.ts); what arrives while no cell runs (a background thread printing) is held, capped,
// and handed to the next cell. A context whose process ends is DEAD, with the reason kept, until
// it is restarted or closed.
import { ExecutionStatus } from '../../proto/gen/runbox/v1/context_pb.js';
import type { RunCgroup } from '../limits/cgroups.js';
import { watchMemory } from '../limits/memory-watch.js';
import type { StageLimits } from '../limits/cgroups.js';
import type { Identity } from '../usercode/isolation.js';
import { GATE_CWD_FAILED } from '../usercode/gate.js';
import { log } from '../core/log.js';
import { rpcError } from '../server/errors.js';
import { DriverProcess, type ContextLanguage, type DriverExit } from './driver.js';
import { Execution, type Death, type ExecutionLimits, type ExecutionSink } from './execution.js';
import { MarkerSplitter } from './marker.js';
import { LineReader, parseEvent, type DriverEvent } from './protocol.js';

/** How long a driver may take to import its interpreter's libraries and say it is ready. */
export const START_TIMEOUT_MS = 120_000;
/** After an interrupt, how long a cell may take to stop before its context is killed. */
export const INTERRUPT_GRACE_MS = 5_000;
/** After `done`, how long the end markers may take to come through stdout and stderr. */
const MARKER_GRACE_MS = 2_000;
/** Output held between cells, per stream. */
const BETWEEN_CELLS_BYTES = 64 << 10;
/** Event lines between cells (ready, fatal) and the overhead of an error's traceback. */
const EVENT_BASE_BYTES = 1 << 20;

type Stream = 'stdout' | 'stderr';
export type ContextStateName = 'starting' | 'idle' | 'busy' | 'dead';

export interface ContextSetup {
  id: string;
  language: ContextLanguage;
  interpreter: string;
  cwd: string;
  env: Record<string, string>;
  who: Identity;
  limits: StageLimits;
  /** A fresh cgroup for each start of the driver (undefined without cgroups). */
  makeCgroup: (attempt: number) => RunCgroup | undefined;
}

function describeExit(exit: DriverExit, memoryLimit: boolean, limits: StageLimits): string {
  if (memoryLimit) return `the context reached its memory limit of ${limits.memoryBytes} bytes (memory_bytes) and was killed`;
  if (exit.signal) return `the context's process was killed by ${exit.signal}`;
  return `the context's process exited with code ${exit.code}`;
}

export class CodeContext {
  readonly createdAt = Date.now();
  lastUsedAt = this.createdAt;
  state: ContextStateName = 'starting';
  version = '';
  executionCount = 0;
  death: Death | undefined;
  #driver: DriverProcess | undefined;
  /** The memory watcher ended the context (stuck at its limit without an OOM kill). */
  #memoryStuck = false;
  #starts = 0;
  #seq = 0;
  #current: Execution | undefined;
  #why: string | undefined;
  #fatal = '';
  #ready: ((error?: Error) => void) | undefined;
  #stopWatch: (() => void) | undefined;
  /** Settles once the current driver's end has been handled (death recorded, cell finished). */
  #exitHandled: Promise<void> = Promise.resolve();
  #markerTimer: NodeJS.Timeout | undefined;
  #between: Record<Stream, { parts: Buffer[]; bytes: number; dropped: number }> = {
    stdout: { parts: [], bytes: 0, dropped: 0 },
    stderr: { parts: [], bytes: 0, dropped: 0 },
  };
  readonly #splitters: Record<Stream, MarkerSplitter>;
  #lines: LineReader;

  constructor(readonly setup: ContextSetup) {
    const splitter = (stream: Stream) =>
      new MarkerSplitter(
        (data) => this.#onOutput(stream, data),
        () => this.#onMarker(stream),
      );
    this.#splitters = { stdout: splitter('stdout'), stderr: splitter('stderr') };
    this.#lines = this.#lineReader();
  }

  get id(): string {
    return this.setup.id;
  }
  get pid(): number {
    return this.#driver?.alive ? this.#driver.pid : 0;
  }

  #lineReader(): LineReader {
    return new LineReader(
      () => EVENT_BASE_BYTES + Math.ceil(((this.#current?.limits.resultLimitBytes ?? 0) * 4) / 3),
      (line) => this.#onEvent(parseEvent(line)),
      (bytes) => this.#current?.resultDropped(bytes),
    );
  }

  /** Starts the driver and resolves once it is ready; rejects (and leaves the context dead) when it cannot start. */
  async start(): Promise<void> {
    this.state = 'starting';
    this.death = undefined;
    this.#why = undefined;
    this.#fatal = '';
    this.executionCount = 0;
    this.#lines = this.#lineReader();
    this.#memoryStuck = false;
    const cgroup = this.setup.makeCgroup(this.#starts++);
    const driver = new DriverProcess({
      ...this.setup,
      cgroup,
      onEvents: (chunk) => this.#lines.push(chunk),
      onOutput: (stream, chunk) => this.#splitters[stream].push(chunk),
    });
    this.#driver = driver;
    if (cgroup) {
      this.#stopWatch = watchMemory(cgroup, (why) => {
        this.#memoryStuck = true;
        void this.kill(
          `the context reached its memory limit of ${this.setup.limits.memoryBytes} bytes (memory_bytes) and was stuck there (${why}); runbox killed it`,
        );
      });
    }
    this.#exitHandled = driver.exited.then((exit) => this.#onExit(driver, cgroup, exit));
    const ready = new Promise<void>((resolve, reject) => (this.#ready = (error) => (error ? reject(error) : resolve())));
    const timer = setTimeout(() => void this.kill(`the context did not become ready within ${START_TIMEOUT_MS} ms`), START_TIMEOUT_MS);
    try {
      await ready;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Ends the driver (and its tree); `why` becomes the death's message. */
  async kill(why: string): Promise<void> {
    this.#why ??= why;
    await this.#driver?.kill();
    await this.#exitHandled;
  }

  async #onExit(driver: DriverProcess, cgroup: RunCgroup | undefined, exit: DriverExit): Promise<void> {
    this.#stopWatch?.();
    await driver.kill(); // whatever the driver started dies with it
    const stats = cgroup?.stats();
    cgroup?.remove();
    const memoryLimit = stats?.oomKilled === true || this.#memoryStuck;
    let message = this.#why ?? (this.#fatal || describeExit(exit, memoryLimit, this.setup.limits));
    if (this.state === 'starting' && exit.code === GATE_CWD_FAILED && !this.#why) {
      message = `cwd ${JSON.stringify(this.setup.cwd)}: user ${this.setup.who.user.name} cannot enter it (it does not exist or is not theirs to enter)`;
    } else if (this.state === 'starting' && !this.#fatal) message += this.#stderrTail();
    this.death = { message, exitCode: exit.signal ? -1 : (exit.code ?? -1), signal: exit.signal ?? '', memoryLimit };
    this.state = 'dead';
    for (const splitter of Object.values(this.#splitters)) splitter.cancel();
    this.#endCell(this.death);
    this.#ready?.(new Error(message));
    this.#ready = undefined;
    log.info('context.died', { context: this.id, reason: message });
  }

  /** What the driver said on stderr before it was ready (an interpreter's own failure). */
  #stderrTail(): string {
    const text = Buffer.concat(this.#between.stderr.parts).toString('utf8').trim();
    return text ? `; it wrote: ${text.slice(-2048)}` : '';
  }

  #onEvent(event: DriverEvent | { invalid: string }): void {
    if ('invalid' in event) {
      log.warn('context.bad_event', { context: this.id, problem: event.invalid });
      return;
    }
    if (event.ev === 'ready') {
      this.version = event.version;
      this.state = 'idle';
      this.#ready?.();
      this.#ready = undefined;
    } else if (event.ev === 'fatal') {
      this.#fatal = event.message;
    } else if (event.ev !== 'reseeded' && this.#current && event.seq === this.#current.seq) {
      this.#current.event(event);
      if (event.ev === 'done') {
        this.executionCount = event.count;
        this.#maybeComplete();
        this.#markerTimer ??= setTimeout(() => this.#markersLate(), MARKER_GRACE_MS);
      }
    }
  }

  #onOutput(stream: Stream, data: Buffer): void {
    if (this.#current) {
      this.#current.output(stream, data);
      return;
    }
    const held = this.#between[stream];
    const room = BETWEEN_CELLS_BYTES - held.bytes;
    if (room > 0) held.parts.push(data.subarray(0, room));
    held.bytes += Math.min(room, data.length);
    held.dropped += Math.max(0, data.length - room);
  }

  #onMarker(stream: Stream): void {
    this.#current?.markerSeen(stream);
    this.#maybeComplete();
  }

  #maybeComplete(): void {
    if (this.#current?.complete) this.#endCell();
  }

  #markersLate(): void {
    for (const splitter of Object.values(this.#splitters)) splitter.cancel();
    this.#endCell(
      undefined,
      `the cell's end marker did not come through stdout/stderr within ${MARKER_GRACE_MS} ms (were they closed or redirected?); later output goes to the next cell`,
    );
  }

  #endCell(death?: Death, note?: string): void {
    clearTimeout(this.#markerTimer);
    this.#markerTimer = undefined;
    const current = this.#current;
    if (!current) return;
    this.#current = undefined;
    this.lastUsedAt = Date.now();
    if (!death && this.state === 'busy') this.state = 'idle';
    current.finish(death, note);
  }

  /** Starts a cell; the caller sends its Started first. */
  execute(code: string, limits: ExecutionLimits, sink: ExecutionSink): Execution {
    if (this.state === 'dead') {
      throw rpcError(
        'CONTEXT_DEAD',
        `context ${this.id} is dead (${this.death?.message ?? 'its process ended'}); restart it (RestartContext) or close it`,
        {
          context: this.id,
        },
      );
    }
    if (this.state === 'starting') {
      throw rpcError('CONTEXT_BUSY', `context ${this.id} is starting (a restart); run the cell once RestartContext has answered`, {
        context: this.id,
      });
    }
    if (this.state !== 'idle') {
      throw rpcError(
        'CONTEXT_BUSY',
        `context ${this.id} is running another cell; wait for it to finish, interrupt it, or use another context`,
        {
          context: this.id,
        },
      );
    }
    const execution = new Execution(++this.#seq, limits, sink);
    this.#current = execution;
    this.state = 'busy';
    this.lastUsedAt = Date.now();
    this.#deliverBetweenCells(execution);
    for (const splitter of Object.values(this.#splitters)) splitter.expect(execution.marker);
    this.#driver!.send({ op: 'execute', seq: execution.seq, code, marker: execution.marker.toString('latin1') });
    const timer = setTimeout(
      () =>
        this.interrupt(
          ExecutionStatus.TIMED_OUT,
          `the cell exceeded its wall-clock limit of ${limits.timeoutMs} ms (timeout_ms) and was interrupted`,
        ),
      limits.timeoutMs,
    );
    void execution.finished.then(() => clearTimeout(timer));
    return execution;
  }

  #deliverBetweenCells(execution: Execution): void {
    for (const stream of ['stdout', 'stderr'] as const) {
      const held = this.#between[stream];
      for (const part of held.parts) execution.output(stream, part);
      if (held.dropped > 0) execution.output(stream, Buffer.from(`\n[runbox: ${held.dropped} bytes written between cells were dropped]\n`));
      this.#between[stream] = { parts: [], bytes: 0, dropped: 0 };
    }
  }

  /**
   * Interrupts the running cell (SIGINT to the driver); false when none runs. A cell that has
   * not stopped INTERRUPT_GRACE_MS later takes its context down with it.
   */
  interrupt(status: ExecutionStatus.TIMED_OUT | ExecutionStatus.INTERRUPTED, message: string): boolean {
    const current = this.#current;
    if (!current || current.done) return false;
    current.stop(status, message);
    this.#driver?.interrupt();
    const grace = setTimeout(() => {
      if (this.#current === current && !current.done) {
        void this.kill(`${message}; the cell did not stop within ${INTERRUPT_GRACE_MS} ms of the interrupt, so the context was killed`);
      }
    }, INTERRUPT_GRACE_MS);
    void current.finished.then(() => clearTimeout(grace));
    return true;
  }

  /** Stops reading the driver while the current cell's call is congested. */
  setPaused(paused: boolean): void {
    this.#driver?.setPaused(paused);
  }

  /** Tells the driver to reseed its random generators (a clone made from a snapshot). */
  reseed(): void {
    if (this.state === 'idle' || this.state === 'busy') this.#driver?.send({ op: 'reseed' });
  }

  async restart(): Promise<void> {
    await this.kill('the context was restarted (RestartContext)');
    await this.start();
  }
}
