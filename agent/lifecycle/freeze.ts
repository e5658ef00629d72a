// User code held still across a memory snapshot. Before the host saves a running sandbox
// (pause, fork) it calls Freeze: every process of user code stops where it is (cgroup v2
// freezer on the parent of all run, shell and file-worker cgroups). In a restored copy it
// stays stopped until Claim has replaced the token, reseeded the RNG and set the clock, so
// no user code ever draws the parent's random numbers or reads its stale time. The copy
// that goes on running (a fork's parent, a pause that failed) is thawed by Thaw; a host that
// never comes back is covered by a guest-time deadline, after which user code goes on.
import type { LimitsBackend } from '../limits/cgroups.js';
import { log } from '../core/log.js';

export interface FreezeResult {
  frozen: boolean;
  detail: string;
}

export class UserCodeFreezer {
  readonly #limits: LimitsBackend;
  #frozen = false;
  #deadline: NodeJS.Timeout | undefined;

  constructor(limits: LimitsBackend) {
    this.#limits = limits;
  }

  get frozen(): boolean {
    return this.#frozen;
  }

  /** Freezes user code; it goes on by itself after `autoThawMs` of guest time. Freezing again re-arms the deadline. */
  async freeze(autoThawMs: number): Promise<FreezeResult> {
    if (!this.#limits.setFrozen) return { frozen: false, detail: `user code cannot be frozen: ${this.#limits.detail}` };
    await this.#limits.setFrozen(true);
    this.#frozen = true;
    clearTimeout(this.#deadline);
    // Guest time: it stands still while the VM is stopped or saved, so the deadline survives a pause.
    this.#deadline = setTimeout(() => {
      log.warn('lifecycle.auto_thaw', { after_ms: autoThawMs });
      this.thaw().catch((error: unknown) => log.error('lifecycle.thaw_failed', { error: (error as Error).message }));
    }, autoThawMs);
    this.#deadline.unref();
    return { frozen: true, detail: '' };
  }

  /** Lets frozen user code go on; false when nothing was frozen. */
  async thaw(): Promise<boolean> {
    clearTimeout(this.#deadline);
    this.#deadline = undefined;
    if (!this.#frozen || !this.#limits.setFrozen) return false;
    await this.#limits.setFrozen(false);
    this.#frozen = false;
    return true;
  }
}
