// The agent's side of the file worker: starts it as the run-as user on first use, multiplexes
// ops over its stdio by id, restarts it after a crash and lets it go when idle.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { RunAsUser } from '../core/users.js';
import type { Killable } from '../core/context.js';
import { log } from '../core/log.js';
import {
  FROM_WORKER,
  FrameError,
  FrameReader,
  TO_WORKER,
  WORKER_IDENTITY_VARIABLE,
  frame,
  jsonFrame,
  type WorkerFailure,
} from './protocol.js';
import { makeOomKillable } from '../limits/oom.js';
import type { LimitsBackend, RunCgroup } from '../limits/cgroups.js';

/** Tasks (threads count) the worker's cgroup allows: Node's own threads and the libuv pool fit well inside. */
const WORKER_MAX_TASKS = 64;

/** A worker with nothing to do exits after this long; the next op starts a new one. */
const IDLE_EXIT_MS = 30_000;

/** build.mjs writes the worker beside the agent bundle (this module runs inside that bundle). */
const WORKER_FILE = path.join(__dirname, 'file-worker.js');
let workerSource: string | undefined;

/** The worker's code, read once by the agent (root): the run-as user may not read the install dir. */
function workerCode(): string {
  workerSource ??= readFileSync(WORKER_FILE, 'utf8');
  return workerSource;
}

/** A worker's JSON payload; anything unparsable means the worker is broken. */
export function parseJson<T>(payload: Buffer): T {
  try {
    return JSON.parse(payload.toString('utf8')) as T;
  } catch {
    throw new FrameError(`a frame's JSON payload does not parse (${payload.length} bytes)`);
  }
}

export interface OpEvents {
  frame(kind: number, payload: Buffer): void;
  /** The worker died under the op. */
  crashed(failure: WorkerFailure): void;
}

export class WorkerOp {
  constructor(
    readonly id: number,
    private readonly worker: FileWorker,
  ) {}
  send(kind: number, payload?: Uint8Array): void {
    this.worker.send(this.id, kind, payload);
  }
  credit(chunks: number): void {
    const n = Buffer.allocUnsafe(4);
    n.writeUInt32BE(chunks, 0);
    this.send(TO_WORKER.credit, n);
  }
  /** The op is over on the agent's side: later frames for it are dropped. */
  close(): void {
    this.worker.forget(this.id);
  }
  abort(): void {
    this.send(TO_WORKER.abort);
    this.close();
  }
}

export class FileWorker implements Killable {
  #child: ChildProcess | undefined;
  #nextId = 1;
  readonly #ops = new Map<number, OpEvents>();
  #idle: NodeJS.Timeout | undefined;

  /** When the worker last sent any frame: a worker silent past the deadline is taken for hung. */
  #lastFrameAt = Date.now();

  constructor(
    private readonly user: RunAsUser,
    /** How long an op may wait for the worker's first answer (ready, ok, fail). */
    private readonly answerTimeoutMs: number,
    /** The worker gets a cgroup of its own like a run (memory: the agent's default per run). */
    private readonly limits?: { backend: LimitsBackend; memoryBytes: number },
  ) {}

  /** Starts op `args` ({ op, ...arguments }); its frames go to `events`. */
  start(args: Record<string, unknown>, events: OpEvents): WorkerOp {
    const id = this.#nextId++;
    if (this.#nextId > 0xffff_fff0) this.#nextId = 1;
    // Every op is under a deadline until the worker first answers it; after that the stream's
    // own flow control (and the client's deadline) governs it.
    const deadline = setTimeout(() => this.#expire(id), this.answerTimeoutMs);
    deadline.unref();
    this.#ops.set(id, {
      frame: (kind, payload) => {
        clearTimeout(deadline);
        events.frame(kind, payload);
      },
      crashed: (failure) => {
        clearTimeout(deadline);
        events.crashed(failure);
      },
    });
    clearTimeout(this.#idle);
    this.send(id, TO_WORKER.call, undefined, args);
    return new WorkerOp(id, this);
  }

  /** The op got no answer in time: it fails; a worker that said nothing at all meanwhile is replaced. */
  #expire(id: number): void {
    const events = this.#ops.get(id);
    if (!events) return;
    const child = this.#child;
    if (child && Date.now() - this.#lastFrameAt >= this.answerTimeoutMs) {
      this.#drop(child, `it answered nothing for ${this.answerTimeoutMs} ms (--file-timeout-ms)`);
      return;
    }
    this.send(id, TO_WORKER.abort);
    this.forget(id);
    events.crashed({
      code: 'EWORKER',
      syscall: '',
      message: `the file worker did not answer within ${this.answerTimeoutMs} ms (--file-timeout-ms)`,
    });
  }

  /** A one-answer op (stat, list, remove, mkdir): resolves with the worker's JSON result. */
  call<T>(args: Record<string, unknown>): Promise<T> {
    return new Promise((resolve, reject) => {
      // A WorkerFailure is data about an errno, not an Error: the caller maps it to a status.
      const op = this.start(args, {
        frame: (kind, payload) => {
          op.close();
          if (kind === FROM_WORKER.ok) resolve(parseJson<T>(payload));
          // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
          else if (kind === FROM_WORKER.fail) reject(parseJson<WorkerFailure>(payload));
          else throw new FrameError(`frame kind ${kind} where a one-answer op expects ok or fail`);
        },
        crashed: reject,
      });
    });
  }

  send(id: number, kind: number, payload?: Uint8Array, json?: unknown): void {
    const child = this.#ensure();
    child.stdin!.write(json === undefined ? frame(id, kind, payload) : jsonFrame(id, kind, json));
  }

  forget(id: number): void {
    this.#ops.delete(id);
    if (this.#ops.size === 0 && this.#child) {
      clearTimeout(this.#idle);
      const child = this.#child;
      this.#idle = setTimeout(() => {
        // Retired before it exits, so a new op starts a fresh worker instead of writing to this one.
        this.#child = undefined;
        child.stdin!.end();
      }, IDLE_EXIT_MS);
      this.#idle.unref();
    }
  }

  kill(): void {
    clearTimeout(this.#idle);
    this.#child?.kill('SIGKILL');
  }

  /** Kills a worker that broke the protocol or hung and fails its ops; later ops start a new worker. */
  #drop(child: ChildProcess, why: string): void {
    if (this.#child !== child) return;
    log.error('files.worker_broken', { pid: child.pid, error: why.slice(0, 300) });
    child.kill('SIGKILL');
    this.#failAll(`the file worker was replaced: ${why}`);
  }

  /**
   * Moves the new worker into a cgroup of its own: it works on data user code controls, so its
   * memory is bounded like a run's, outside the agent's. It is our code and does not fork, so
   * moving it right after spawn leaves nothing outside. Without cgroups, or if that fails, the
   * worker still serves (the agent's own limits apply), and the log says so.
   */
  #confine(child: ChildProcess): RunCgroup | undefined {
    if (!this.limits || child.pid === undefined) return undefined;
    let cgroup: RunCgroup | undefined;
    try {
      cgroup = this.limits.backend.createCgroup(`files-${child.pid}`, {
        memoryBytes: this.limits.memoryBytes,
        maxProcesses: WORKER_MAX_TASKS,
      });
      cgroup?.addProcess(child.pid);
      return cgroup;
    } catch (error) {
      cgroup?.remove();
      log.warn('files.worker_cgroup_failed', { pid: child.pid, error: (error as Error).message });
      return undefined;
    }
  }

  #failAll(message: string): void {
    this.#child = undefined;
    const failed = [...this.#ops.values()];
    this.#ops.clear();
    const failure: WorkerFailure = { code: 'EWORKER', syscall: '', message };
    for (const op of failed) op.crashed(failure);
  }

  #ensure(): ChildProcess {
    if (this.#child) return this.#child;
    const dropPrivileges = process.getuid?.() === 0 && this.user.uid !== 0;
    // The worker starts as root and switches only its *effective* ids to the user's (see
    // worker/main.ts): the kernel checks every file operation as the user, but the user's own
    // processes cannot signal, ptrace, or take fds from it (its real and saved uid stay root,
    // which also makes it non-dumpable).
    const child = spawn(process.execPath, ['-e', workerCode()], {
      stdio: ['pipe', 'pipe', 'pipe'],
      cwd: existsSync(this.user.home) ? this.user.home : '/',
      env: {
        HOME: this.user.home,
        USER: this.user.name,
        PATH: '/usr/bin:/bin',
        LANG: 'C.UTF-8',
        ...(dropPrivileges ? { [WORKER_IDENTITY_VARIABLE]: `${this.user.uid}:${this.user.gid}` } : {}),
      },
    });
    this.#child = child;
    makeOomKillable(child.pid);
    const cgroup = this.#confine(child);
    this.#lastFrameAt = Date.now();
    const reader = FrameReader.fromWorker((id, kind, payload) => {
      this.#lastFrameAt = Date.now();
      this.#ops.get(id)?.frame(kind, payload);
    });
    child.stdout.on('data', (chunk: Buffer) => {
      try {
        reader.push(chunk);
      } catch (error) {
        // The worker handles data user code controls: a bad frame (or a handler choking on
        // one) ends this worker, never the agent. The next op gets a new one.
        this.#drop(child, error instanceof Error ? error.message : String(error));
      }
    });
    child.stderr.setEncoding('utf8').on('data', (text: string) => log.warn('files.worker_stderr', { text: text.trim().slice(0, 500) }));
    child.stdin.on('error', () => {}); // reported through 'exit'
    child.on('error', (error) => log.error('files.worker_spawn_failed', { error: error.message }));
    child.once('exit', (code, signal) => {
      cgroup?.remove();
      if (this.#child !== child) return; // retired when idle (no ops), or already dropped
      if (this.#ops.size > 0)
        log.error('files.worker_exited', { code: code ?? undefined, signal: signal ?? undefined, ops: this.#ops.size });
      this.#failAll(`the file worker exited (${signal ?? code})`);
    });
    log.info('files.worker_started', { pid: child.pid, user: this.user.name });
    return child;
  }
}
