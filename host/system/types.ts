// Public types of the system capability.

/** The agent's Health answer (`sb.health()`, `sb.waitReady()`). */
export interface Health {
  version: string;
  uptimeSeconds: number;
  /** 'cgroup_v2': memory and process limits hold; 'none': only time and output limits do. */
  limitsBackend: 'cgroup_v2' | 'none';
  limitsDetail: string;
  runAsUser: string;
  activeRuns: number;
  maxConcurrentRuns: number;
  authRequired: boolean;
}

/** A language the agent offers (`sb.languages()`). */
export interface Language {
  name: string;
  aliases: string[];
  version: string;
  /** Runs have a compile stage (go, rust, typescript). */
  compiled: boolean;
}
