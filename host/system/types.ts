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
  /**
   * How runs are kept apart (agent flag --isolation): 'shared': all user code is one user and
   * shares files, processes and /tmp; 'per-run': each run and shell is a uid of its own with
   * private directories and a /proc of its own. 'unknown': not said (no token, or an older agent).
   */
  isolation: 'shared' | 'per-run' | 'unknown';
}

/** A language the agent offers (`sb.languages()`). */
export interface Language {
  name: string;
  aliases: string[];
  version: string;
  /** Runs have a compile stage (go, rust, typescript). */
  compiled: boolean;
}
