// Who user code runs as (--isolation). shared: every run and shell is the run-as user, so
// they share files, processes and /tmp; state persists between runs. per-run: every run and
// shell is a uid of its own from the pool, starts through the launcher (private /tmp,
// /var/tmp, /dev/shm, a /proc without other uids), has its private directory as HOME, and
// when it ends every process of its uid is killed before the uid goes back to the pool.
import { accessSync, constants, readFileSync } from 'node:fs';
import path from 'node:path';
import type { AgentConfig } from '../core/config.js';
import type { RunAsUser } from '../core/users.js';
import { rpcError } from '../server/errors.js';
import { PRIVATE_MOUNTS, SETPRIV, UNSHARE } from './launcher.js';
import { UidPool } from './uid-pool.js';

/** Who a stage or shell runs as, and whether it gets private mounts (launcher.ts). */
export interface Identity {
  user: RunAsUser;
  isolated: boolean;
}

/** The identity one run or shell session has for its lifetime. */
export interface Tenant {
  readonly isolated: boolean;
  /** Who user code runs as; under per-run isolation `home` is its private directory. */
  identity(home: string): Identity;
  /**
   * Kills whatever of a per-run uid is left, runs `cleanup` (removing its files), then returns
   * the uid to the pool, so no later tenant of that uid meets anything of this one. Once only.
   */
  release(cleanup?: () => Promise<void>): Promise<void>;
}

export class Isolation {
  readonly #pool: UidPool | undefined;

  constructor(
    readonly mode: AgentConfig['isolation'],
    private readonly runAs: RunAsUser,
    uids: AgentConfig['runUids'],
    /** Ends every process of a uid (kill.ts's killUser; passed in, so a test can watch it). */
    private readonly killUser: (uid: number) => void,
  ) {
    this.#pool = mode === 'per-run' ? new UidPool(uids.first, uids.last) : undefined;
  }

  /** The tenant for a new run or shell. */
  acquire(): Tenant {
    const pool = this.#pool;
    if (!pool) return { isolated: false, identity: () => ({ user: this.runAs, isolated: false }), release: async (cleanup) => cleanup?.() };
    const uid = pool.take();
    if (uid === undefined) {
      // --run-uids is checked against --max-concurrent + --max-shells at start: only a leak gets here.
      throw rpcError('RUN_UIDS_EXHAUSTED', `all ${pool.size} uids of --run-uids are in use`, { flag: '--run-uids' });
    }
    let released = false;
    return {
      isolated: true,
      identity: (home) => ({ user: { name: `runbox-${uid}`, uid, gid: uid, home, shell: this.runAs.shell }, isolated: true }),
      release: async (cleanup) => {
        if (released) return;
        released = true;
        try {
          this.killUser(uid);
          await cleanup?.();
        } finally {
          pool.give(uid);
        }
      },
    };
  }
}

/** Why per-run isolation cannot work here, or undefined when it can. */
export function perRunProblem(config: AgentConfig, passwd = '/etc/passwd'): string | undefined {
  const uids = config.runUids;
  if (process.getuid?.() !== 0) return '--isolation per-run needs the agent to run as root (it switches to a uid per run)';
  for (const [flag, dir] of [
    ['--work-dir', config.workDir],
    ['--cache-dir', config.cacheDir],
  ] as const) {
    const under = PRIVATE_MOUNTS.find((m) => path.resolve(dir) === m || path.resolve(dir).startsWith(`${m}/`));
    if (under)
      return `${flag} ${dir} is under ${under}, which every per-run tenant gets a private, empty copy of: choose a directory elsewhere`;
  }
  for (const tool of [UNSHARE, SETPRIV]) {
    try {
      accessSync(tool, constants.X_OK);
    } catch {
      return `--isolation per-run needs ${tool} (util-linux)`;
    }
  }
  for (const line of readFileSync(passwd, 'utf8').split('\n')) {
    const [name, , uid] = line.split(':');
    const n = Number(uid);
    if (name && Number.isInteger(n) && n >= uids.first && n <= uids.last) {
      return `--run-uids ${uids.first}-${uids.last} includes uid ${n}, which belongs to user ${name}: choose a range no user owns`;
    }
  }
  return undefined;
}
