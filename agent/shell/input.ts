// Input for a shell's pty, with a bound. node-pty's write() queues whatever the program does not
// read, without limit, and retries EAGAIN in a setImmediate loop (a core spinning for as long as
// the program does not read). Here the agent writes to the pty master itself, counts the bytes the
// kernel has not taken yet, and says when the stream should stop reading the client.
import { writeSync } from 'node:fs';
import type * as pty from 'node-pty';
import { log } from '../core/log.js';

/** Input bytes waiting for the pty above which the client's stream is not read. */
export const INPUT_LIMIT = 1 << 20;
/** Reading resumes once what waits is down to this (not at once: fewer pause/resume turns). */
export const INPUT_RESUME = INPUT_LIMIT / 2;
/** EAGAIN retries on the next loop turn before backing off: a reader that is busy frees room soon. */
const QUICK_RETRIES = 16;
/** The back-off for a program that does not read: retries at most this far apart. */
const MAX_RETRY_MS = 50;

/** Where PtyInput writes: the pty master, and whether its owner has closed it. */
export interface PtyMaster {
  /** Like fs.writeSync on a non-blocking fd: the bytes taken, or throws (code EAGAIN when full). */
  write(data: Uint8Array, offset: number, length: number): number;
  /** The fd was closed (or is about to be): its number may belong to another file now. */
  closed(): boolean;
}

/** A shell's input: never loses or reorders a byte while the pty is open. */
export interface ShellInput {
  /** Queues `data` behind what waits; false once more than INPUT_LIMIT waits (stop reading). */
  write(data: Uint8Array): boolean;
  /** Bytes handed over that the pty has not taken yet. */
  readonly pending: number;
}

export class PtyInput implements ShellInput {
  readonly #queue: Uint8Array[] = [];
  /** Bytes of #queue[0] already written. */
  #offset = 0;
  #pending = 0;
  #retry: { cancel(): void } | undefined;
  #stalls = 0;
  /** write() returned false: `onResume` is owed once the backlog is down. */
  #full = false;
  #done = false;

  constructor(
    private readonly master: PtyMaster,
    private readonly onResume: () => void,
    private readonly limit = INPUT_LIMIT,
    private readonly resumeAt = INPUT_RESUME,
  ) {}

  get pending(): number {
    return this.#pending;
  }

  write(data: Uint8Array): boolean {
    if (this.#done || data.length === 0) return true;
    this.#queue.push(data);
    this.#pending += data.length;
    // While a retry is scheduled, the new bytes wait behind the older ones.
    if (!this.#retry) this.#flush();
    if (this.#pending <= this.limit) return true;
    this.#full = true;
    return false;
  }

  /** The pty is gone: what waits can never be read. A paused stream is released. */
  close(): void {
    if (this.#done) return;
    this.#done = true;
    this.#retry?.cancel();
    this.#retry = undefined;
    this.#queue.length = 0;
    this.#pending = 0;
    this.#resumeIfOwed();
  }

  #flush(): void {
    this.#retry = undefined;
    while (this.#queue.length > 0) {
      if (this.master.closed()) return this.close();
      const chunk = this.#queue[0]!;
      let written: number;
      try {
        written = this.master.write(chunk, this.#offset, chunk.length - this.#offset);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EAGAIN') {
          this.#retryLater();
          break;
        }
        // EIO: every process let go of the terminal; nobody will read this input.
        return this.close();
      }
      this.#stalls = 0;
      this.#offset += written;
      this.#pending -= written;
      if (this.#offset === chunk.length) {
        this.#queue.shift();
        this.#offset = 0;
      }
    }
    this.#resumeIfOwed();
  }

  #retryLater(): void {
    this.#stalls++;
    if (this.#stalls <= QUICK_RETRIES) {
      const immediate = setImmediate(() => this.#flush());
      this.#retry = { cancel: () => clearImmediate(immediate) };
    } else {
      const timer = setTimeout(() => this.#flush(), Math.min(2 ** (this.#stalls - QUICK_RETRIES - 1), MAX_RETRY_MS));
      this.#retry = { cancel: () => clearTimeout(timer) };
    }
  }

  #resumeIfOwed(): void {
    if (!this.#full || this.#pending > this.resumeAt) return;
    this.#full = false;
    this.onResume();
  }
}

/** What node-pty's UnixTerminal has but does not declare: the master fd and the stream reading it. */
interface UnixTerminalInternals {
  fd?: unknown;
  _socket?: { destroyed?: unknown };
}

/**
 * The pty master of a node-pty terminal, written with fs.writeSync (the fd is non-blocking, so
 * a full pty is EAGAIN, not a blocked agent). node-pty closes the fd by destroying its read
 * stream, which sets `destroyed` first: checked before every write, a reused fd number is never
 * written to. Undefined when this node-pty does not look like that.
 */
export function ptyMaster(terminal: pty.IPty): PtyMaster | undefined {
  const internals = terminal as unknown as UnixTerminalInternals;
  const fd = internals.fd;
  const socket = internals._socket;
  if (typeof fd !== 'number' || typeof socket?.destroyed !== 'boolean') return undefined;
  return {
    write: (data, offset, length) => writeSync(fd, data, offset, length),
    closed: () => socket.destroyed === true,
  };
}

/** node-pty's own write: correct, but unbounded. Only when its internals changed shape. */
class UnboundedInput implements ShellInput {
  readonly pending = 0;
  constructor(private readonly terminal: pty.IPty) {}
  write(data: Uint8Array): boolean {
    this.terminal.write(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    return true;
  }
}

let warned = false;

/** The input of `terminal`; `onResume` is called when a write() that said false may be followed. */
export function shellInput(terminal: pty.IPty, onResume: () => void): ShellInput {
  const master = ptyMaster(terminal);
  if (master) return new PtyInput(master, onResume);
  if (!warned) {
    warned = true;
    log.warn('shell.input_unbounded', { why: 'node-pty has no fd/_socket: shell input is not bounded' });
  }
  return new UnboundedInput(terminal);
}
