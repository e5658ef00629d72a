// Whether a compile ran with no other user code around it. All user code of a sandbox shares
// one uid, so another run or a shell could rewrite the source or the binary in this run's
// private directory while the compiler works (a poisoned binary would then be cached under the
// legitimate source's key). The compile cache stores an output only when no other run, shell or
// code context was live when the compile started and none began before its process tree was gone.
// Leftover processes of earlier runs cannot be there with the cgroup backend (a stage's whole
// cgroup is killed); with the `none` backend a process that escaped its run's marker could be
// (docs/running-code.md says what that backend cannot promise).
import type { AgentContext } from '../core/context.js';

export interface AloneSnapshot {
  runsStarted: number;
  shellsOpened: number;
  contextsOpened: number;
}

/** The counters to compare after the compile, or undefined when other user code is live now. */
export function aloneBefore(ctx: AgentContext): AloneSnapshot | undefined {
  if (ctx.admission.active !== 1 || ctx.shells.live !== 0 || ctx.contexts.live !== 0) return undefined;
  return { runsStarted: ctx.admission.started, shellsOpened: ctx.shells.opened, contextsOpened: ctx.contexts.opened };
}

/** True when no run, shell or context began since `before` and none but this run is live: the same state again. */
export function stillAlone(ctx: AgentContext, before: AloneSnapshot | undefined): boolean {
  const now = aloneBefore(ctx);
  return (
    before !== undefined &&
    now !== undefined &&
    now.runsStarted === before.runsStarted &&
    now.shellsOpened === before.shellsOpened &&
    now.contextsOpened === before.contextsOpened
  );
}
