// ProcessService: RunCode and Exec, one RunSession per call (session.ts).
import type { ImplementationOf } from '../../proto/grpc.js';
import type { ProcessService } from '../../proto/gen/runbox/v1/process_pb.js';
import type { AgentContext } from '../core/context.js';
import { CompileCache } from './cache.js';
import { RunSession } from './session.js';

export function processService(ctx: AgentContext): ImplementationOf<typeof ProcessService> {
  let cache: CompileCache | undefined;
  // Created on first use, so a read-only cache dir only fails compiled languages, and says so.
  const getCache = () => (cache ??= new CompileCache(ctx.config.cacheDir, ctx.runAs));
  // A call that comes while the agent still finds its toolchains waits for them (its messages
  // wait in grpc-js meanwhile; a cancel is seen through call.cancelled).
  return {
    runCode: (call) => void ctx.languages.ready.then(() => new RunSession(ctx, getCache, call, 'runCode')),
    exec: (call) => void ctx.languages.ready.then(() => new RunSession(ctx, getCache, call, 'exec')),
  };
}
