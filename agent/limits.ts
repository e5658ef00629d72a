// PLACEHOLDER (runner engineer replaces this file): per-run limit enforcement (cgroup v2 or none).
import type { AgentConfig } from './config.js';

export interface LimitsBackend {
  kind: 'cgroup_v2' | 'none';
  /** Why this backend: the cgroup path in use, or why cgroups are unavailable. */
  detail: string;
}

export async function initLimits(_config: AgentConfig): Promise<LimitsBackend> {
  return { kind: 'none', detail: 'not implemented yet' };
}
