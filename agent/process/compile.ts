// The compile stage of a compiled language: what it runs, and what becomes of its output (the
// cache keeps it only when no other user code could have touched it: the compile ran alone,
// tenancy.ts, or under per-run isolation, where no other run shares its uid).
import path from 'node:path';
import type { AgentContext } from '../core/context.js';
import { log } from '../core/log.js';
import type { CompileCache } from './cache.js';
import type { RunCodePlan } from './plan.js';
import type { StageSpec } from './stage.js';
import type { Identity } from '../usercode/isolation.js';
import { stillAlone, type AloneSnapshot } from './tenancy.js';

/** Where and as whom a run compiles. */
export interface CompileWhere {
  runId: string;
  who: Identity;
  privateDir: string;
  source: string;
  env: Record<string, string>;
}

/** The compile stage's spec; `output` is where the compiler writes the program. */
export function compileStageSpec(
  ctx: AgentContext,
  plan: RunCodePlan,
  where: CompileWhere,
  onOutput: StageSpec['onOutput'],
): { spec: StageSpec; output: string } {
  const output = path.join(where.privateDir, plan.language.outputFile);
  // The shared Go build cache is the run-as user's: a per-run uid keeps one of its own, which
  // dies with the run (only the verified binary cache outlives it).
  const cacheDir = where.who.isolated ? path.join(where.privateDir, '.cache') : ctx.config.cacheDir;
  const command = plan.language.compile!({ dir: where.privateDir, source: where.source, output, cacheDir });
  const spec: StageSpec = {
    stage: 'compile',
    id: `${where.runId}.compile`,
    argv: command.argv,
    cwd: where.privateDir,
    cwdFromClient: false,
    env: { ...where.env, ...command.env },
    user: where.who.user,
    isolated: where.who.isolated,
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
  where: CompileWhere,
): string {
  if (!where.who.isolated && !stillAlone(ctx, alone)) {
    // Other user code could have written the source or the binary meanwhile: run it, never cache it.
    log.info('cache.skipped', { id: where.runId, why: 'other user code ran during the compile' });
    return output;
  }
  try {
    return cache.store(cacheKey, output, where.who.user.uid);
  } catch (error) {
    log.warn('cache.store_failed', { id: where.runId, error: (error as Error).message });
    return output;
  }
}
