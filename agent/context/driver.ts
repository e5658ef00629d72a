// A context's process: the language's driver (driver/python.py, driver/javascript.ts) started
// as the context's user in a session of its own, in its own cgroup when there are cgroups.
// Its stdin carries the driver's source and is then closed (user code reads end of file);
// fd 1 and 2 are the user's stdout and stderr; fd 3 takes the agent's commands and fd 4 gives
// its events. Starting follows shells (shell/session.ts): the constant launcher joins the
// cgroup and drops to the user; without it the gate enters the cwd as the user.
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import type { RunCgroup } from '../limits/cgroups.js';
import { makeOomKillable } from '../limits/oom.js';
import { gateArgv } from '../usercode/gate.js';
import { launcherArgv, ROOT_ENV } from '../usercode/launcher.js';
import type { Identity } from '../usercode/isolation.js';
import { killTree, MARKER_VARIABLE } from '../usercode/kill.js';
import { encodeCommand, type DriverCommand } from './protocol.js';

/** The languages that have a driver, and how their interpreter reads a program from stdin. */
const DRIVERS = {
  python: { file: 'context-python.py', args: ['-u', '-'] },
  javascript: { file: 'context-javascript.js', args: ['-'] },
} as const;

export type ContextLanguage = keyof typeof DRIVERS;

export const CONTEXT_LANGUAGES = Object.keys(DRIVERS) as ContextLanguage[];

export const isContextLanguage = (name: string): name is ContextLanguage => name in DRIVERS;

/** Beside the agent's bundle (build.mjs puts them there); read once. */
const sources = new Map<ContextLanguage, Buffer>();
function driverSource(language: ContextLanguage): Buffer {
  let source = sources.get(language);
  if (!source) {
    source = readFileSync(path.join(__dirname, DRIVERS[language].file));
    sources.set(language, source);
  }
  return source;
}

export interface DriverExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface DriverSpec {
  language: ContextLanguage;
  /** The language's interpreter (python3, node), as the language registry found it. */
  interpreter: string;
  /** The context's id: its processes carry it as their marker (usercode/kill.ts). */
  id: string;
  who: Identity;
  env: Record<string, string>;
  cwd: string;
  cgroup: RunCgroup | undefined;
  onEvents(chunk: Buffer): void;
  onOutput(stream: 'stdout' | 'stderr', chunk: Buffer): void;
}

const needsUserSwitch = (who: Identity) => process.getuid?.() === 0 && who.user.uid !== 0;

export class DriverProcess {
  readonly child: ChildProcess;
  /** Settles when the driver's own process has exited (its tree may live on until kill()). */
  readonly exited: Promise<DriverExit>;
  #exit: DriverExit | undefined;

  constructor(private readonly spec: DriverSpec) {
    this.child = this.#spawn();
    this.exited = new Promise((resolve) => {
      const settle = (exit: DriverExit) => {
        if (this.#exit) return;
        this.#exit = exit;
        resolve(exit);
      };
      this.child.once('exit', (code, signal) => settle({ code, signal }));
      this.child.once('error', () => settle({ code: 127, signal: null }));
    });
    if (this.child.pid !== undefined && !(spec.who.isolated || spec.cgroup)) makeOomKillable(this.child.pid);
    const [stdin, stdout, stderr, commands, events] = this.child.stdio as [Writable, Readable, Readable, Writable, Readable];
    for (const stream of [stdin, commands]) stream.on('error', () => undefined); // EPIPE once the driver is gone
    stdin.end(driverSource(spec.language));
    stdout.on('data', (chunk: Buffer) => spec.onOutput('stdout', chunk));
    stderr.on('data', (chunk: Buffer) => spec.onOutput('stderr', chunk));
    events.on('data', (chunk: Buffer) => spec.onEvents(chunk));
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  get alive(): boolean {
    return this.#exit === undefined && this.child.pid !== undefined;
  }

  #spawn(): ChildProcess {
    const { spec } = this;
    const argv = [spec.interpreter, ...DRIVERS[spec.language].args];
    const env = { ...spec.env, [MARKER_VARIABLE]: spec.id };
    const stdio: StdioOptions = ['pipe', 'pipe', 'pipe', 'pipe', 'pipe'];
    const { user } = spec.who;
    if (spec.who.isolated || spec.cgroup) {
      // Root runs only the constant launcher, with ROOT_ENV; the gate enters cwd as the user.
      const launch = {
        uid: user.uid,
        gid: user.gid,
        groups: 'clear',
        privateMounts: spec.who.isolated,
        cgroup: spec.cgroup?.path,
        env,
      } as const;
      const full = launcherArgv(launch, gateArgv(spec.cwd, false, argv));
      return spawn(full[0]!, full.slice(1), { cwd: '/', env: ROOT_ENV, detached: true, stdio });
    }
    if (needsUserSwitch(spec.who)) {
      // libuv chdir()s before dropping to the user: the gate enters the cwd as the user instead.
      const gated = gateArgv(spec.cwd, false, argv);
      return spawn(gated[0]!, gated.slice(1), { cwd: '/', env, detached: true, stdio, uid: user.uid, gid: user.gid });
    }
    return spawn(argv[0]!, argv.slice(1), { cwd: spec.cwd, env, detached: true, stdio });
  }

  send(command: DriverCommand): void {
    const commands = this.child.stdio[3] as Writable;
    if (this.alive && !commands.destroyed) commands.write(encodeCommand(command));
  }

  /** SIGINT to the driver itself (not its children): KeyboardInterrupt in the running cell. */
  interrupt(): void {
    if (!this.alive) return;
    try {
      process.kill(this.pid, 'SIGINT');
    } catch {
      /* gone meanwhile */
    }
  }

  /** Flow control: while the client cannot take more, the driver's output is not read. */
  setPaused(paused: boolean): void {
    for (const fd of [1, 2, 4]) {
      const stream = this.child.stdio[fd] as Readable;
      if (paused) stream.pause();
      else stream.resume();
    }
  }

  /** Ends the driver and everything it started; resolves when the driver has exited. */
  async kill(): Promise<DriverExit> {
    if (this.spec.cgroup) await this.spec.cgroup.killAll();
    else killTree(this.child.pid, this.spec.id, this.spec.who.user.uid);
    (this.child.stdio[3] as Writable).destroy();
    return this.exited;
  }
}
