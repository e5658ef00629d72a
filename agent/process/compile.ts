// The compile stage of a compiled language: what it runs, and what becomes of its output (the
// cache keeps it only when the compile ran alone, tenancy.ts).
import path from 'node:path';
import type { AgentContext } from '../core/context.js';
import { log } from '../core/log.js';
import type { CompileCache } from './cache.js';
import type { RunCodePlan } from './plan.js';
import type { StageSpec } from './stage.js';
import { stillAlone, type AloneSnapshot } from './tenancy.js';

/** The compile stage's spec; `output` is where the compiler writes the program. */
export function compileStageSpec(
  ctx: AgentContext,
  plan: RunCodePlan,
  where: { runId: string; privateDir: string; source: string; env: Record<string, string> },
  onOutput: StageSpec['onOutput'],
): { spec: StageSpec; output: string } {
  const output = path.join(where.privateDir, plan.language.outputFile);
  const command = plan.language.compile!({ dir: where.privateDir, source: where.source, output, cacheDir: ctx.config.cacheDir });
  const spec: StageSpec = {
    stage: 'compile',
    id: `${where.runId}.compile`,
    argv: command.argv,
    cwd: where.privateDir,
    cwdFromClient: false,
    env: { ...where.env, ...command.env },
    user: ctx.runAs,
    stdin: false,
    timeoutMs: plan.limits.compileTimeoutMs,
    outputLimitBytes: plan.limits.outputLimitBytes,
    // Compilers need what they need: never less than the agent's defaults.
    limits: {
      memoryBytes: Math.max(plan.limits.memoryBytes, ctx.config.defaults.memoryBytes),
      maxProcesses: Math.max(plan.limits.maxProcesses, ctx.config.defaults.maxProcesses),
    },
    onOutput,
  };
  return { spec, output };
}

/** The program to run: the cached copy, or the fresh output when it may not or could not be cached. */
export function keepCompiled(
  ctx: AgentContext,
  cache: CompileCache,
  cacheKey: string,
  output: string,
  alone: AloneSnapshot | undefined,
  runId: string,
): string {
  if (!stillAlone(ctx, alone)) {
    // Other user code could have written the source or the binary meanwhile: run it, never cache it.
    log.info('cache.skipped', { id: runId, why: 'other user code ran during the compile' });
    return output;
  }
  try {
    return cache.store(cacheKey, output, ctx.runAs.uid);
  } catch (error) {
    log.warn('cache.store_failed', { id: runId, error: (error as Error).message });
    return output;
  }
}
