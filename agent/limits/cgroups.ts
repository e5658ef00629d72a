// Per-run memory and process-count limits. With cgroup v2 each stage of a run gets its own
// cgroup (memory.max, memory.swap.max=0, pids.max) under a subtree the agent owns; without
// it ('none') only the wall-clock and output limits hold, and the agent says so in Health.
//
// Layout when the agent starts in cgroup /S (e.g. /system.slice/runbox-agent.service):
//   /S/agent/          the agent itself (cgroup v2 forbids processes in a cgroup whose
//                      controllers are delegated to children: "no internal processes")
//   /S/runs/<stage-id> one cgroup per stage of a run
// When the agent is in the root cgroup (no init system made one), it leaves its own
// placement alone and uses /runbox-runs/<stage-id>.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { AgentConfig } from '../core/config.js';
import { log } from '../core/log.js';

const CGROUP_ROOT = '/sys/fs/cgroup';
const CONTROLLERS = ['memory', 'pids'] as const;

/** What a stage's cgroup measured once the stage ended. */
export interface CgroupStats {
  cpuMs: number;
  peakMemoryBytes: number;
  /** The kernel's OOM killer ended a process of this cgroup. */
  oomKilled: boolean;
  /** pids.max refused at least one fork/clone. */
  processLimitHit: boolean;
}

/** The counters a memory watcher samples while a stage runs (see limits/memory-watch.ts). */
export interface MemorySample {
  /** memory.events `max`: times the cgroup's usage hit memory.max and the kernel had to reclaim. */
  atLimitEvents: number;
  /** memory.events `oom`: times reclaim failed at the limit and the kernel went for an OOM kill. */
  oomEvents: number;
  /** memory.events `oom_kill` + `oom_group_kill`: OOM kills that actually happened. */
  oomKills: number;
  /** memory.pressure `full total=`: µs during which every task of the cgroup was stalled on memory; undefined without PSI. */
  fullStallUs: number | undefined;
  /** memory.stat workingset refaults: evicted pages read back in (file + anon); undefined when absent. */
  refaults: number | undefined;
}

/** One stage's cgroup. */
export interface RunCgroup {
  readonly path: string;
  /** Moves a process in (write to cgroup.procs). Call before the process can fork. */
  addProcess(pid: number): void;
  /** Kills every process in the cgroup (cgroup.kill) and waits until it is empty. */
  killAll(): Promise<void>;
  /** Reads the stats; call after killAll. */
  stats(): CgroupStats;
  /** Reads the memory counters; cheap (three small cgroupfs reads). */
  memorySample(): MemorySample;
  /** Removes the (empty) cgroup. Never throws. */
  remove(): void;
}

export interface StageLimits {
  memoryBytes: number;
  maxProcesses: number;
}

export interface LimitsBackend {
  kind: 'cgroup_v2' | 'none';
  /** Why this backend: the cgroup path in use, or why cgroups are unavailable. */
  detail: string;
  /** A fresh cgroup for one stage; undefined with the 'none' backend. Throws when creation fails. */
  createCgroup(name: string, limits: StageLimits): RunCgroup | undefined;
  /**
   * Freezes (true) or thaws every cgroup of user code at once (the parent's cgroup.freeze)
   * and resolves once the kernel reports it done; undefined with the 'none' backend.
   */
  setFrozen?(frozen: boolean): Promise<void>;
}

const NOT_ENFORCED = 'memory and process-count limits are NOT enforced (wall-clock and output limits are)';

function none(why: string): LimitsBackend {
  return { kind: 'none', detail: `${why}; ${NOT_ENFORCED}`, createCgroup: () => undefined };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Parses "key value" lines (memory.events, pids.events, cpu.stat, cgroup.events). */
function readKeyed(file: string): Map<string, number> {
  const values = new Map<string, number>();
  try {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const [key, value] = line.split(' ');
      if (key && value !== undefined) values.set(key, Number(value));
    }
  } catch {
    /* file absent on this kernel */
  }
  return values;
}

/**
 * The `full ... total=<µs>` field of a PSI file. Undefined when the kernel has no PSI
 * (CONFIG_PSI off, or booted with psi=0: then the file is absent or reading it fails).
 */
function readFullStall(file: string): number | undefined {
  try {
    const total = /^full .*\btotal=(\d+)/m.exec(readFileSync(file, 'utf8'))?.[1];
    return total === undefined ? undefined : Number(total);
  } catch {
    return undefined;
  }
}

function readNumber(file: string): number {
  try {
    const n = Number(readFileSync(file, 'utf8').trim());
    return Number.isFinite(n) ? n : 0;
  } catch {
    return 0;
  }
}

function procsOf(dir: string): number[] {
  return readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
}

function enableControllers(dir: string): void {
  writeFileSync(path.join(dir, 'cgroup.subtree_control'), CONTROLLERS.map((c) => `+${c}`).join(' '));
}

/** Kills and removes a cgroup left behind by an agent that died. */
function reapLeftover(dir: string): void {
  try {
    writeFileSync(path.join(dir, 'cgroup.kill'), '1');
  } catch {
    /* already empty or gone */
  }
  for (let i = 0; i < 50; i++) {
    try {
      rmdirSync(dir);
      return;
    } catch {
      const until = Date.now() + 10;
      while (Date.now() < until) {
        /* the kernel needs a moment to empty a killed cgroup */
      }
    }
  }
  log.warn('cgroup.leftover', { path: dir });
}

class StageCgroup implements RunCgroup {
  constructor(readonly path: string) {}

  addProcess(pid: number): void {
    writeFileSync(path.join(this.path, 'cgroup.procs'), String(pid));
  }

  async killAll(): Promise<void> {
    let viaKillFile = true;
    try {
      writeFileSync(path.join(this.path, 'cgroup.kill'), '1');
    } catch (error) {
      // cgroup.kill came with Linux 5.14; before it, SIGKILL each member until none is left.
      viaKillFile = false;
      log.warn('cgroup.kill_failed', { path: this.path, error: (error as Error).message });
    }
    // cgroup.events says "populated 0" once every process has exited.
    for (let waited = 0; waited < 5_000; waited += 5) {
      if (readKeyed(path.join(this.path, 'cgroup.events')).get('populated') !== 1) return;
      if (!viaKillFile) this.#killMembers();
      await sleep(5);
    }
    log.warn('cgroup.still_populated', { path: this.path });
  }

  #killMembers(): void {
    let pids: number[] = [];
    try {
      pids = procsOf(this.path);
    } catch {
      return; // the cgroup is gone
    }
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* exited meanwhile */
      }
    }
  }

  stats(): CgroupStats {
    const cpu = readKeyed(path.join(this.path, 'cpu.stat'));
    const memoryEvents = readKeyed(path.join(this.path, 'memory.events'));
    const pidsEvents = readKeyed(path.join(this.path, 'pids.events'));
    return {
      cpuMs: Math.round((cpu.get('usage_usec') ?? 0) / 1000),
      peakMemoryBytes: readNumber(path.join(this.path, 'memory.peak')),
      oomKilled: (memoryEvents.get('oom_kill') ?? 0) > 0 || (memoryEvents.get('oom_group_kill') ?? 0) > 0,
      processLimitHit: (pidsEvents.get('max') ?? 0) > 0,
    };
  }

  memorySample(): MemorySample {
    const stat = readKeyed(path.join(this.path, 'memory.stat'));
    const file = stat.get('workingset_refault_file');
    const anon = stat.get('workingset_refault_anon');
    const older = stat.get('workingset_refault'); // before Linux 5.9: one counter
    const events = readKeyed(path.join(this.path, 'memory.events'));
    return {
      atLimitEvents: events.get('max') ?? 0,
      oomEvents: events.get('oom') ?? 0,
      oomKills: (events.get('oom_kill') ?? 0) + (events.get('oom_group_kill') ?? 0),
      fullStallUs: readFullStall(path.join(this.path, 'memory.pressure')),
      refaults: file !== undefined || anon !== undefined ? (file ?? 0) + (anon ?? 0) : older,
    };
  }

  remove(): void {
    try {
      rmdirSync(this.path);
    } catch (error) {
      // Still populated (a process escaped the kill?) or already gone: try once more, loudly.
      reapLeftover(this.path);
      log.warn('cgroup.remove_retry', { path: this.path, error: (error as Error).message });
    }
  }
}

const FREEZE_WAIT_MS = 5_000;

/** Writes `dir`'s cgroup.freeze and waits until cgroup.events says every process is (un)frozen. */
async function setCgroupFrozen(dir: string, frozen: boolean): Promise<void> {
  writeFileSync(path.join(dir, 'cgroup.freeze'), frozen ? '1' : '0');
  const deadline = Date.now() + FREEZE_WAIT_MS;
  while (readKeyed(path.join(dir, 'cgroup.events')).get('frozen') !== (frozen ? 1 : 0)) {
    if (Date.now() > deadline) throw new Error(`${dir}: cgroup.events did not report frozen=${frozen ? 1 : 0} within ${FREEZE_WAIT_MS} ms`);
    await sleep(5);
  }
}

function cgroupBackend(runsDir: string, detail: string): LimitsBackend {
  return {
    kind: 'cgroup_v2',
    detail,
    setFrozen: (frozen) => setCgroupFrozen(runsDir, frozen),
    createCgroup(name, limits) {
      const dir = path.join(runsDir, name);
      mkdirSync(dir);
      const cgroup = new StageCgroup(dir);
      try {
        writeFileSync(path.join(dir, 'memory.max'), String(limits.memoryBytes));
        // Without this the limit leaks into swap; the file is absent when swap accounting is off.
        if (existsSync(path.join(dir, 'memory.swap.max'))) writeFileSync(path.join(dir, 'memory.swap.max'), '0');
        // An OOM kill ends the whole stage, not one random process of it.
        if (existsSync(path.join(dir, 'memory.oom.group'))) writeFileSync(path.join(dir, 'memory.oom.group'), '1');
        writeFileSync(path.join(dir, 'pids.max'), String(limits.maxProcesses));
      } catch (error) {
        cgroup.remove();
        throw error;
      }
      return cgroup;
    },
  };
}

/** Moves every process of `from` (the agent, and any child it has right now) into `to`. */
function moveAll(from: string, to: string): void {
  for (let round = 0; round < 20; round++) {
    const pids = procsOf(from);
    if (pids.length === 0) return;
    for (const pid of pids) {
      try {
        writeFileSync(path.join(to, 'cgroup.procs'), String(pid));
      } catch (error) {
        // A child that exited meanwhile is fine; anything else is not.
        if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
      }
    }
  }
  throw new Error(`${from} keeps gaining processes; cannot leave it empty`);
}

function setUpCgroups(): LimitsBackend {
  if (!existsSync(path.join(CGROUP_ROOT, 'cgroup.controllers'))) {
    return none(`cgroup v2 is not mounted at ${CGROUP_ROOT} (cgroup v1 or hybrid hierarchy)`);
  }
  const own = /^0::(\/.*)$/m.exec(readFileSync('/proc/self/cgroup', 'utf8'))?.[1];
  if (own === undefined) return none('this process has no cgroup v2 membership in /proc/self/cgroup');
  if (process.getuid?.() !== 0) return none('the agent is not root, so it cannot manage cgroups');

  let parent: string;
  if (own === '/') {
    parent = path.join(CGROUP_ROOT, 'runbox-runs');
    enableControllers(CGROUP_ROOT);
  } else {
    // Restarted inside the cgroup we made last time (e.g. systemd kept the unit's cgroup)?
    const base = path.join(CGROUP_ROOT, path.basename(own) === 'agent' ? path.dirname(own) : own);
    const available = readFileSync(path.join(base, 'cgroup.controllers'), 'utf8').split(/\s+/);
    const missing = CONTROLLERS.filter((c) => !available.includes(c));
    if (missing.length > 0) {
      return none(`cgroup ${base} lacks the ${missing.join(', ')} controller(s) (the parent does not delegate them)`);
    }
    const agentDir = path.join(base, 'agent');
    mkdirSync(agentDir, { recursive: true });
    moveAll(base, agentDir);
    enableControllers(base);
    parent = path.join(base, 'runs');
  }
  mkdirSync(parent, { recursive: true });
  enableControllers(parent);
  for (const leftover of readdirSync(parent, { withFileTypes: true })) {
    if (leftover.isDirectory()) reapLeftover(path.join(parent, leftover.name));
  }
  return cgroupBackend(parent, `cgroup v2 at ${parent} (memory.max, memory.swap.max=0, pids.max per stage)`);
}

/** Chooses the backend: cgroup v2 with --cgroups auto when usable, else 'none' saying why. */
export async function initLimits(config: AgentConfig): Promise<LimitsBackend> {
  if (config.cgroups === 'off') return none('cgroups are off (--cgroups off)');
  try {
    return setUpCgroups();
  } catch (error) {
    return none(`cgroup v2 setup failed: ${(error as Error).message}`);
  }
}
