// The agent protects itself from the OOM killer (systemd OOMScoreAdjust=-1000, or the start
// script), and children inherit oom_score_adj. Everything the agent starts for a user — runs
// (agent/process/stage.ts), shells, the file worker — must be killable again, or a cgroup at
// memory.max has no victim and its tasks stall in reclaim instead of being OOM-killed.
import { readFileSync, writeFileSync } from 'node:fs';
import { log } from '../core/log.js';

/** What user processes get: the kernel's default, so its usual choice of victim applies. */
export const USER_OOM_SCORE_ADJ = 0;

function ownScoreAdj(): number {
  try {
    return Number(readFileSync('/proc/self/oom_score_adj', 'utf8').trim());
  } catch {
    return 0;
  }
}

/**
 * Resets a child's oom_score_adj right after spawn. Raising it needs no privilege, and the
 * agent is root anyway; a failure is logged, never fatal (the process may already be gone).
 */
export function makeOomKillable(pid: number | undefined): void {
  // Only an agent that lowered its own score passes a lowered score on (read each time: cheap,
  // and right even if the service manager changes it after start).
  if (pid === undefined || ownScoreAdj() >= USER_OOM_SCORE_ADJ) return;
  try {
    writeFileSync(`/proc/${pid}/oom_score_adj`, String(USER_OOM_SCORE_ADJ));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ESRCH') log.warn('oom.reset_failed', { pid, error: (error as Error).message });
  }
}
