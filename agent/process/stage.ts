// One stage of a run (compile or run): spawn the command as the run-as user in its own
// process group (and cgroup), capture capped output, enforce the wall-clock limit, end the
// whole process tree however the stage ends, and describe how it ended.
import { spawn, type ChildProcess } from 'node:child_process';
import { monotonicMs } from '../core/clock.js';
import type { Writable } from 'node:stream';
import { create } from '@bufbuild/protobuf';
import { StageResultSchema, Stage, Status, type StageResult } from '../../proto/gen/runbox/v1/process_pb.js';
import type { LimitsBackend, RunCgroup, CgroupStats, StageLimits } from '../limits/cgroups.js';
import type { RunAsUser } from '../core/users.js';
import { CappedOutput } from '../usercode/output.js';
import { killTree, MARKER_VARIABLE, signalTree } from '../usercode/kill.js';
import { watchMemory } from '../limits/memory-watch.js';
import { makeOomKillable } from '../limits/oom.js';
import { gateArgv } from '../usercode/gate.js';
import { launcherArgv, ROOT_ENV } from '../usercode/launcher.js';

export type StreamName = 'stdout' | 'stderr';

export interface StageSpec {
  stage: 'compile' | 'run';
  /** Unique per stage: the marker value every process inherits, and the cgroup's name. */
  id: string;
  argv: string[];
  cwd: string;
  /**
   * `cwd` came from the client: enter it as the user, never as root. libuv chdir()s before it
   * drops to the user's uid, so a root chdir would hand the program a directory it could not
   * reach itself (e.g. a 0777 directory inside a root-only 0700 one).
   */
  cwdFromClient: boolean;
  env: Record<string, string>;
  user: RunAsUser;
  /** Start through the launcher with private mounts (per-run isolation), setpriv to `user`. */
  isolated: boolean;
  /** Give the process a stdin pipe (otherwise /dev/null). */
  stdin: boolean;
  timeoutMs: number;
  outputLimitBytes: number;
  limits: StageLimits;
  /** Receives kept output as it arrives: pieces in order and their total length. */
  onOutput(stream: StreamName, pieces: Buffer[], bytes: number): void;
}

/** How long output pipes may stay open after the tree is dead before they are cut. */
const DRAIN_GRACE_MS = 5_000;

/** How runbox itself can end a stage before its main process exits. */
type EndStatus = Status.TIMED_OUT | Status.CANCELLED | Status.MEMORY_LIMIT;

const needsUserSwitch = (user: RunAsUser) => process.getuid?.() === 0 && user.uid !== 0;

/** Caps and forwards a child's stdout and stderr; `drained` settles when both pipes closed. */
function collectOutput(child: ChildProcess, spec: StageSpec): { outputs: Record<StreamName, CappedOutput>; drained: Promise<unknown> } {
  const outputs = {
    stdout: new CappedOutput(spec.outputLimitBytes, (pieces, bytes) => spec.onOutput('stdout', pieces, bytes)),
    stderr: new CappedOutput(spec.outputLimitBytes, (pieces, bytes) => spec.onOutput('stderr', pieces, bytes)),
  };
  const drained = Promise.all(
    (['stdout', 'stderr'] as const).map(
      (name) =>
        new Promise<void>((resolve) => {
          const stream = child[name]!;
          stream.on('data', (chunk: Buffer) => outputs[name].push(chunk));
          // A pending batch goes out before the stage's result can.
          const done = () => (outputs[name].flush(), resolve());
          stream.once('close', done);
          stream.once('error', done);
        }),
    ),
  );

  return { outputs, drained };
}

export class RunningStage {
  /** Settles once the whole tree is gone, the output drained and the cgroup removed. Never rejects. */
  readonly result: Promise<StageResult>;
  readonly spec: StageSpec;
  #backend: LimitsBackend;
  #child: ChildProcess | undefined;
  #cgroup: RunCgroup | undefined;
  #end: { status: EndStatus; message: string } | undefined;
  #outputPaused = false;
  #mainExited = false;
  #stdinOpen: boolean;

  constructor(backend: LimitsBackend, spec: StageSpec) {
    this.#backend = backend;
    this.spec = spec;
    this.#stdinOpen = spec.stdin;
    this.result = this.#run().catch((error: Error) =>
      this.#resultOf({ status: Status.INTERNAL_ERROR, message: `runbox failed running the ${spec.stage} stage: ${error.message}` }),
    );
  }

  /** Writes to the process's stdin; false when the pipe is full (wait for onStdinDrain). */
  writeStdin(data: Uint8Array): boolean {
    const stdin = this.#child?.stdin;
    if (!stdin || !this.#stdinOpen || stdin.destroyed) return true;
    return stdin.write(data);
  }

  onStdinDrain(listener: () => void): void {
    const stdin = this.#child?.stdin;
    if (!stdin || stdin.destroyed || !stdin.writableNeedDrain) listener();
    else stdin.once('drain', listener).once('close', listener);
  }

  closeStdin(): void {
    if (!this.#stdinOpen) return;
    this.#stdinOpen = false;
    this.#child?.stdin?.end();
  }

  /** Sends a signal to the stage's whole process group. */
  signal(signal: NodeJS.Signals): void {
    const pid = this.#child?.pid;
    if (pid !== undefined && !this.#mainExited) signalTree(pid, signal);
  }

  /** Ends the stage now: the whole tree is killed and the status is CANCELLED. */
  /**
   * Flow control from the client: while the call cannot take more, the stage's pipes are not
   * read, so the program blocks on a full pipe (as under ssh) instead of the agent buffering
   * its output. Only while the main process lives; after that the rest drains regardless.
   */
  setOutputPaused(paused: boolean): void {
    this.#outputPaused = paused;
    this.#applyOutputPause();
  }

  #applyOutputPause(): void {
    const child = this.#child;
    if (!child) return;
    const pause = this.#outputPaused && !this.#mainExited;
    for (const stream of [child.stdout, child.stderr]) {
      if (pause) stream?.pause();
      else stream?.resume();
    }
  }

  cancel(message: string): void {
    this.#terminate(Status.CANCELLED, message);
  }

  #terminate(status: EndStatus, message: string): void {
    if (this.#mainExited || this.#end) return;
    this.#end = { status, message };
    void this.#killAll();
  }

  async #killAll(): Promise<void> {
    if (this.#cgroup) await this.#cgroup.killAll();
    else killTree(this.#child?.pid, this.spec.id, this.spec.user.uid);
  }

  async #run(): Promise<StageResult> {
    const { spec } = this;
    try {
      this.#cgroup = this.#backend.createCgroup(spec.id, spec.limits);
    } catch (error) {
      return this.#resultOf({ status: Status.INTERNAL_ERROR, message: `creating the stage's cgroup failed: ${(error as Error).message}` });
    }
    try {
      return await this.#spawnAndWait();
    } finally {
      this.#cgroup?.remove();
    }
  }

  /** Starts the stage's main process as the user, in its own session, through the gate when needed. */
  #spawn(): ChildProcess {
    const { spec } = this;
    const env = { ...spec.env, [MARKER_VARIABLE]: spec.id };
    const identity: { uid?: number; gid?: number } = needsUserSwitch(spec.user) ? { uid: spec.user.uid, gid: spec.user.gid } : {};
    const stdinMode = spec.stdin ? 'pipe' : 'ignore';
    const gated = this.#cgroup !== undefined;
    const cdAsUser = spec.cwdFromClient && identity.uid !== undefined;
    if (spec.isolated) {
      // Root only runs the constant wrapper, with ROOT_ENV; the gate enters cwd as the user.
      const launch = { uid: spec.user.uid, gid: spec.user.gid, groups: 'clear', privateMounts: true, env } as const;
      const argv = launcherArgv(launch, gateArgv(spec.cwd, gated, spec.argv));
      return spawn(argv[0]!, argv.slice(1), {
        cwd: '/',
        env: ROOT_ENV,
        detached: true,
        stdio: [stdinMode, 'pipe', 'pipe', gated ? 'pipe' : 'ignore'],
      });
    }
    // detached: setsid() in the child, so the stage is its own process group (and session).
    // libuv calls setgroups(0) before setgid/setuid, so no supplementary group survives.
    return gated || cdAsUser
      ? spawn('/bin/sh', gateArgv(cdAsUser ? spec.cwd : '', gated, spec.argv).slice(1), {
          cwd: cdAsUser ? '/' : spec.cwd,
          env,
          detached: true,
          stdio: [stdinMode, 'pipe', 'pipe', gated ? 'pipe' : 'ignore'],
          ...identity,
        })
      : spawn(spec.argv[0]!, spec.argv.slice(1), { cwd: spec.cwd, env, detached: true, stdio: [stdinMode, 'pipe', 'pipe'], ...identity });
  }

  async #spawnAndWait(): Promise<StageResult> {
    const { spec } = this;
    const startedAt = monotonicMs();
    const child = this.#spawn();
    this.#child = child;
    this.#applyOutputPause();

    const spawnError = new Promise<NodeJS.ErrnoException>((resolve) => child.once('error', resolve));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    if (child.pid === undefined) {
      const error = await spawnError;
      return this.#spawnFailure(error, monotonicMs() - startedAt);
    }
    // The agent's own oom_score_adj (-1000) is inherited: reset it, or the kernel finds no
    // victim in a cgroup at memory.max and the stage stalls there instead of being OOM-killed.
    // Gated, this happens before the command runs (everything it forks inherits the reset);
    // ungated (no cgroup, hence no memory limit) it is best effort for the global OOM killer.
    makeOomKillable(child.pid);
    if (this.#cgroup) {
      try {
        this.#cgroup.addProcess(child.pid);
      } catch (error) {
        killTree(child.pid, spec.id, spec.user.uid);
        await exited;
        return this.#resultOf({
          status: Status.INTERNAL_ERROR,
          message: `moving the stage into its cgroup failed: ${(error as Error).message}`,
        });
      }
      (child.stdio[3] as Writable).end('go\n');
    }
    // Safety net: a stage stuck at memory.max (OOM with no victim, or thrashing its own code
    // pages) without the kernel killing it ends as MEMORY_LIMIT (memory-watch.ts).
    const stopMemoryWatch = this.#cgroup
      ? watchMemory(this.#cgroup, (why) =>
          this.#terminate(
            Status.MEMORY_LIMIT,
            `the ${spec.stage} stage reached its memory limit of ${spec.limits.memoryBytes} bytes (memory_bytes) and was stuck there instead of being OOM-killed: ${why}; runbox killed the whole process tree`,
          ),
        )
      : undefined;

    child.stdin?.on('error', () => {
      /* EPIPE: the program exited or closed stdin; nothing to deliver any more */
    });
    const { outputs, drained } = collectOutput(child, spec);

    const timer = setTimeout(
      () =>
        this.#terminate(
          Status.TIMED_OUT,
          `the ${spec.stage} stage exceeded its wall-clock limit of ${spec.timeoutMs} ms (${spec.stage === 'compile' ? 'compile_timeout_ms' : 'timeout_ms'}); the whole process tree was killed`,
        ),
      spec.timeoutMs,
    );
    const { code, signal } = await exited;
    const wallMs = monotonicMs() - startedAt;
    clearTimeout(timer);
    stopMemoryWatch?.();
    this.#mainExited = true;
    // Whatever is left is at most the kept limit: it drains now, so the grace cut below only
    // ever ends pipes held open by orphans, never output a slow client has not taken yet.
    this.#applyOutputPause();
    this.#stdinOpen = false;
    // The stage is over when its main process is: whatever it left running dies with it.
    await this.#killAll();
    const cut = setTimeout(() => {
      child.stdout?.destroy();
      child.stderr?.destroy();
    }, DRAIN_GRACE_MS);
    await drained;
    clearTimeout(cut);
    child.stdin?.destroy();
    const stats = this.#cgroup?.stats();
    return this.#resultOf({ code, signal, wallMs, stats, outputs });
  }

  #spawnFailure(error: NodeJS.ErrnoException, wallMs: number): StageResult {
    const command = this.spec.argv[0];
    // Like a shell: 127 for a command that is not there, 126 for one that cannot be run.
    if (error.code === 'ENOENT' || error.code === 'EACCES') {
      return this.#resultOf({
        status: Status.EXITED,
        code: error.code === 'ENOENT' ? 127 : 126,
        wallMs,
        message:
          error.code === 'ENOENT'
            ? `could not start ${JSON.stringify(command)}: not found (PATH is searched for names without a slash; cwd must exist)`
            : `could not start ${JSON.stringify(command)}: permission denied for user ${this.spec.user.name} (the command or cwd is not accessible)`,
      });
    }
    return this.#resultOf({
      status: Status.INTERNAL_ERROR,
      wallMs,
      message: `could not start ${JSON.stringify(command)}: ${error.message}`,
    });
  }

  #resultOf(ending: {
    status?: Status;
    code?: number | null;
    signal?: NodeJS.Signals | null;
    wallMs?: number;
    stats?: CgroupStats | undefined;
    outputs?: { stdout: CappedOutput; stderr: CappedOutput };
    message?: string;
  }): StageResult {
    const { spec } = this;
    const messages: string[] = [];
    let status: Status;
    if (ending.status !== undefined) {
      status = ending.status;
    } else if (this.#end) {
      status = this.#end.status;
      messages.push(this.#end.message);
    } else if (ending.stats?.oomKilled) {
      status = Status.MEMORY_LIMIT;
      messages.push(
        `the ${spec.stage} stage exceeded its memory limit of ${spec.limits.memoryBytes} bytes (memory_bytes) and the kernel's OOM killer ended it`,
      );
    } else if (ending.signal) {
      status = Status.SIGNALED;
    } else {
      status = spec.stage === 'compile' && ending.code !== 0 ? Status.COMPILE_ERROR : Status.EXITED;
    }
    if (ending.message) messages.push(ending.message);
    if (ending.stats?.processLimitHit) {
      messages.push(`the process-count limit of ${spec.limits.maxProcesses} (max_processes) refused at least one fork`);
    }
    for (const name of ['stdout', 'stderr'] as const) {
      const output = ending.outputs?.[name];
      if (output?.truncated) {
        messages.push(`${name} was cut at ${output.limit} bytes (output_limit_bytes); the program wrote ${output.totalBytes}`);
      }
    }
    const exited = status === Status.EXITED || status === Status.COMPILE_ERROR;
    return create(StageResultSchema, {
      stage: spec.stage === 'compile' ? Stage.COMPILE : Stage.RUN,
      status,
      exitCode: exited && typeof ending.code === 'number' ? ending.code : -1,
      signal: ending.signal ?? '',
      wallMs: BigInt(Math.round(ending.wallMs ?? 0)),
      cpuMs: BigInt(ending.stats?.cpuMs ?? 0),
      peakMemoryBytes: BigInt(ending.stats?.peakMemoryBytes ?? 0),
      stdoutTruncated: ending.outputs?.stdout.truncated ?? false,
      stderrTruncated: ending.outputs?.stderr.truncated ?? false,
      stdoutBytes: BigInt(ending.outputs?.stdout.totalBytes ?? 0),
      stderrBytes: BigInt(ending.outputs?.stderr.totalBytes ?? 0),
      processLimitHit: ending.stats?.processLimitHit ?? false,
      message: messages.join('; '),
    });
  }
}
