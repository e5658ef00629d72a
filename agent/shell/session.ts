// One shell session: a process on a pty that outlives the streams attached to it. Output
// goes to the attached client (with backpressure: a slow client pauses the pty, as a real
// terminal would) and always into a ring buffer replayed on re-attach.
import { existsSync } from 'node:fs';
import { freshUuid } from '../core/ids.js';
import * as pty from 'node-pty';
import type { RunAsUser } from '../core/users.js';
import { RingBuffer } from './ring-buffer.js';
import { foregroundGroup, hangUpSession } from './process-group.js';
import { signalName } from '../usercode/signals.js';
import type { StartRequest } from './validate.js';
import { makeOomKillable } from '../limits/oom.js';
import { gateArgv } from '../usercode/gate.js';
import { launcherArgv, ROOT_ENV } from '../usercode/launcher.js';
import type { Identity } from '../usercode/isolation.js';
import { shellInput, type ShellInput } from './input.js';

export const REPLAY_BYTES = 64 * 1024;
/** Between SIGHUP and SIGKILL when a session is hung up. */
export const KILL_AFTER_MS = 2_000;

/** Where an attached stream receives a session's events. */
export interface ShellSink {
  /** Returns false when the client is slow; it calls session.resumeOutput() once drained. */
  output(chunk: Buffer): boolean;
  /** A write() that returned false may be followed now: read the client again. */
  inputResumed(): void;
  exited(exitCode: number, signal: string): void;
  /** Another client attached to the session: this stream must end. */
  stolen(): void;
}

export interface ShellExit {
  exitCode: number;
  signal: string;
}

/**
 * node-pty sets uid and gid in the child but keeps the parent's supplementary groups — root's,
 * when the agent is root. Switching the agent's groups to the user's around the synchronous
 * fork gives the shell exactly the user's groups; root itself does not need groups for access.
 */
function withUserGroups<T>(user: RunAsUser, fork: () => T): T {
  const proc = process as NodeJS.Process & { initgroups?: (user: string, extraGroup: number) => void };
  if (process.getuid?.() !== 0 || user.uid === 0 || !process.getgroups || !proc.initgroups || !process.setgroups) return fork();
  const saved = process.getgroups();
  proc.initgroups(user.name, user.gid);
  try {
    return fork();
  } finally {
    process.setgroups(saved);
  }
}

export class ShellSession {
  readonly id = freshUuid();
  readonly command: string[];
  readonly startedAt = Date.now();
  cols: number;
  rows: number;
  #pty: pty.IPty;
  #ring = new RingBuffer(REPLAY_BYTES);
  #sink: ShellSink | undefined;
  #paused = false;
  #exit: ShellExit | undefined;
  #hungUp = false;
  #ended!: () => void;
  /** Settles when the shell's process has exited. */
  readonly ended = new Promise<void>((resolve) => (this.#ended = resolve));
  /** Made at the first write (the pty exists by then). */
  #input: ShellInput | undefined;

  constructor(
    who: Identity,
    /** The whole environment of the shell (usercode/env.ts). */
    env: Record<string, string>,
    start: StartRequest,
    private readonly onExit: (session: ShellSession) => void,
    /** The session's cgroup directory, joined before the shell can fork (cgroup v2 backend). */
    cgroup?: string,
  ) {
    const { user } = who;
    this.command = start.command.length > 0 ? start.command : [user.shell, '-l'];
    this.cols = start.cols;
    this.rows = start.rows;
    const cwd = start.cwd || (existsSync(user.home) ? user.home : '/');
    const term = { name: start.term || 'xterm-256color', cols: start.cols, rows: start.rows, encoding: null };
    if (who.isolated || cgroup !== undefined) {
      // Root runs only the constant launcher, with ROOT_ENV: it joins the cgroup, makes the
      // private mounts (per-run), drops to the user; the gate then enters cwd as the user.
      const launch = {
        uid: user.uid,
        gid: user.gid,
        groups: who.isolated ? 'clear' : 'init',
        privateMounts: who.isolated,
        cgroup,
        env,
      } as const;
      const argv = launcherArgv(launch, gateArgv(cwd, false, this.command));
      this.#pty = pty.spawn(argv[0]!, argv.slice(1), { ...term, cwd: '/', env: { ...ROOT_ENV } });
    } else {
      const dropping = process.getuid?.() === 0 && user.uid !== 0;
      const asUser = dropping ? { uid: user.uid, gid: user.gid } : {};
      // node-pty chdir()s before it drops privileges: when it will drop them, the gate enters the
      // cwd as the user instead (a cwd the user may not enter ends the shell with exit 126).
      const argv = dropping ? gateArgv(cwd, false, this.command) : this.command;
      this.#pty = withUserGroups(user, () => pty.spawn(argv[0]!, argv.slice(1), { ...term, cwd: dropping ? '/' : cwd, env, ...asUser }));
    }
    makeOomKillable(this.#pty.pid);
    this.#pty.onData((data) => this.#onOutput(data as unknown as Buffer));
    this.#pty.onExit(({ exitCode, signal }) => {
      this.#exit = { exitCode, signal: signalName(signal) };
      this.#ended();
      // Jobs left in the background would outlive the shell: the session ends as a whole.
      this.hangUp();
      // The registry decides first (it looks at `attached`), then the client hears of it.
      this.onExit(this);
      this.#sink?.exited(this.#exit.exitCode, this.#exit.signal);
    });
  }

  get pid(): number {
    return this.#pty.pid;
  }
  get attached(): boolean {
    return this.#sink !== undefined;
  }
  get exit(): ShellExit | undefined {
    return this.#exit;
  }

  #onOutput(data: Buffer): void {
    this.#ring.push(data);
    if (this.#sink && !this.#sink.output(data)) {
      this.#paused = true;
      this.#pty.pause();
    }
  }

  resumeOutput(): void {
    if (this.#paused) {
      this.#paused = false;
      this.#pty.resume();
    }
  }

  /** Makes `sink` the session's one client; a previous one is told it was replaced. */
  attach(sink: ShellSink): { replay: Buffer; truncated: boolean } {
    const previous = this.#sink;
    this.#sink = sink;
    previous?.stolen();
    this.resumeOutput();
    const { bytes, truncated } = this.#ring.snapshot();
    return { replay: bytes, truncated };
  }

  detach(sink: ShellSink): void {
    if (this.#sink !== sink) return;
    this.#sink = undefined;
    // Nobody reads now: keep the program running and its output flowing into the ring.
    this.resumeOutput();
  }

  /**
   * Types `data` into the terminal, after anything still waiting. False when the program is
   * that far behind (shellInput's bound): stop reading the client until sink.inputResumed().
   */
  write(data: Uint8Array): boolean {
    if (this.#exit) return true;
    this.#input ??= shellInput(this.#pty, () => this.#sink?.inputResumed());
    return this.#input.write(data);
  }

  resize(cols: number, rows: number): void {
    if (this.#exit) return;
    this.#pty.resize(cols, rows);
    this.cols = cols;
    this.rows = rows;
  }

  /** Sends `signal` to the terminal's foreground process group (Ctrl-C semantics). */
  signal(signal: NodeJS.Signals): void {
    if (this.#exit) return;
    try {
      process.kill(-foregroundGroup(this.pid), signal);
    } catch {
      // No such group yet: right after the fork the child has not called setsid, so its group
      // does not exist. It is the only process then, with every signal blocked until its
      // handlers are back to default: signalled directly, it gets this one when it may.
      try {
        process.kill(this.pid, signal);
      } catch {
        /* it ended meanwhile */
      }
    }
  }

  /** Hangs the session up: SIGHUP to all its processes, SIGKILL to survivors shortly after. */
  hangUp(): void {
    if (this.#hungUp) return;
    this.#hungUp = true;
    hangUpSession(this.pid, KILL_AFTER_MS);
  }
}
