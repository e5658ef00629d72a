// What every service module of the agent shares: config, identity, capacity, shutdown.
import type { AgentConfig } from './config.js';
import type { RunAsUser } from './users.js';
import type { LanguageRegistry } from '../languages/languages.js';
import type { LimitsBackend } from '../limits/cgroups.js';
import type { Isolation } from '../usercode/isolation.js';

/** Something live the agent must end on shutdown (a run's process tree, a shell session). */
export interface Killable {
  kill(reason: string): void;
}

/** Counts concurrent runs against --max-concurrent. */
export class Admission {
  #active = 0;
  #started = 0;
  constructor(readonly max: number) {}
  get active(): number {
    return this.#active;
  }
  /** Runs admitted since the agent started: tells whether any began during an interval. */
  get started(): number {
    return this.#started;
  }
  /** A release function, or undefined when the agent is full. Release is idempotent. */
  tryAcquire(): (() => void) | undefined {
    if (this.#active >= this.max) return undefined;
    this.#active++;
    this.#started++;
    let released = false;
    return () => {
      if (!released) {
        released = true;
        this.#active--;
      }
    };
  }
}

export interface AgentContext {
  config: AgentConfig;
  runAs: RunAsUser;
  /** Who each run and shell runs as (--isolation). */
  isolation: Isolation;
  /** Variables every run and shell starts with (--env-file); the request's env overrides them. */
  userEnv: Record<string, string>;
  startedAt: number;
  languages: LanguageRegistry;
  limits: LimitsBackend;
  admission: Admission;
  /** Everything that must die when the agent stops. Modules add and delete their own entries. */
  live: Set<Killable>;
  /** Shell sessions: how many live now, how many were ever opened (the compile cache asks). */
  shells: { live: number; opened: number };
  /** Code contexts, counted as shells are. */
  contexts: { live: number; opened: number };
}
