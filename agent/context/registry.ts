// The agent's code contexts: create (up to --max-contexts), look up by id, close, and close the
// ones idle longer than --context-idle-ms. Each context holds a tenant (usercode/isolation.ts)
// for its lifetime, a cgroup per start of its process (the agent's default limits or the
// request's), and a place in ctx.live so agent shutdown ends it. Closed ids are remembered for a
// while so a late call learns why its context is gone.
import path from 'node:path';
import { existsSync } from 'node:fs';
import type { CreateContextRequest } from '../../proto/gen/runbox/v1/context_pb.js';
import type { AgentContext, Killable } from '../core/context.js';
import { freshUuid } from '../core/ids.js';
import { log } from '../core/log.js';
import { rpcError, RpcError } from '../server/errors.js';
import { userEnv } from '../usercode/env.js';
import type { Tenant } from '../usercode/isolation.js';
import { createPrivateDir, removePrivateDir } from '../usercode/workdir.js';
import { CodeContext } from './context.js';
import { checkCreate } from './validate.js';

/** Closed ids remembered, with why. */
const REMEMBERED = 256;

interface Entry {
  context: CodeContext;
  tenant: Tenant;
  home: string | undefined;
  killable: Killable;
}

export class ContextRegistry {
  readonly #entries = new Map<string, Entry>();
  readonly #closed = new Map<string, string>();
  #starting = 0;

  constructor(private readonly ctx: AgentContext) {
    const idleMs = ctx.config.contextIdleMs;
    setInterval(() => this.#reapIdle(), Math.min(60_000, Math.max(1_000, idleMs / 4))).unref();
  }

  list(): CodeContext[] {
    return [...this.#entries.values()].map((e) => e.context);
  }

  get(id: string): CodeContext {
    const entry = this.#entries.get(id);
    if (entry) return entry.context;
    const why = this.#closed.get(id);
    throw rpcError(
      'CONTEXT_NOT_FOUND',
      why
        ? `context ${JSON.stringify(id)} is gone: ${why}`
        : `context ${JSON.stringify(id)} does not exist; ListContexts shows the agent's contexts`,
      { context: id },
    );
  }

  async create(request: CreateContextRequest): Promise<CodeContext> {
    // The interpreter and the PATH come from the toolchains the agent finds after it starts serving.
    await this.ctx.languages.ready;
    const checked = checkCreate(this.ctx, request);
    const { maxContexts } = this.ctx.config;
    if (this.#entries.size + this.#starting >= maxContexts) {
      throw rpcError('TOO_MANY_CONTEXTS', `${maxContexts} contexts are open, the most this agent keeps (--max-contexts); close one first`, {
        flag: '--max-contexts',
        limit: String(maxContexts),
      });
    }
    const id = freshUuid();
    const tenant = this.ctx.isolation.acquire();
    const who = tenant.identity(path.join(this.ctx.config.workDir, `ctx-${id}`));
    let home: string | undefined;
    this.#starting++;
    try {
      // Under per-run isolation the context's uid has a private HOME of its own, gone with it.
      if (who.isolated) home = createPrivateDir(this.ctx.config.workDir, `ctx-${id}`, who.user);
      const env = userEnv(who, this.ctx.languages.searchPath, this.ctx.userEnv, checked.env);
      const cwd = checked.cwd || (existsSync(who.user.home) ? who.user.home : '/');
      const context = new CodeContext({
        id,
        language: checked.language,
        interpreter: checked.interpreter,
        cwd,
        env,
        who,
        limits: checked.limits,
        makeCgroup: (attempt) => this.ctx.limits.createCgroup(`ctx-${id}-${attempt}`, checked.limits),
      });
      const entry: Entry = { context, tenant, home, killable: { kill: (why) => void this.close(id, `the agent is stopping (${why})`) } };
      await context.start().catch((error: Error) => {
        throw rpcError('CONTEXT_START_FAILED', `the ${checked.language} context could not start: ${error.message}`, {
          language: checked.language,
        });
      });
      this.#entries.set(id, entry);
      this.ctx.live.add(entry.killable);
      this.ctx.contexts.live++;
      this.ctx.contexts.opened++;
      log.info('context.created', { context: id, language: checked.language, pid: context.pid, version: context.version });
      return context;
    } catch (error) {
      void tenant.release(async () => {
        if (home) await removePrivateDir(home);
      });
      throw error instanceof RpcError
        ? error
        : rpcError('CONTEXT_START_FAILED', `the context could not start: ${(error as Error).message}`);
    } finally {
      this.#starting--;
    }
  }

  /** Ends the context and everything it started, removes its files and forgets it. */
  async close(id: string, why: string): Promise<void> {
    const entry = this.#entries.get(id);
    if (!entry) return;
    this.#entries.delete(id);
    this.#closed.set(id, why);
    if (this.#closed.size > REMEMBERED) this.#closed.delete(this.#closed.keys().next().value!);
    this.ctx.live.delete(entry.killable);
    this.ctx.contexts.live--;
    await entry.context.kill(`the context was closed: ${why}`);
    await entry.tenant.release(async () => {
      if (entry.home) await removePrivateDir(entry.home);
    });
    log.info('context.closed', { context: id, why });
  }

  #reapIdle(): void {
    const idleMs = this.ctx.config.contextIdleMs;
    const now = Date.now();
    for (const { context } of this.#entries.values()) {
      if (context.state !== 'busy' && context.state !== 'starting' && now - context.lastUsedAt > idleMs) {
        void this.close(context.id, `it was idle for more than ${idleMs} ms (--context-idle-ms)`);
      }
    }
  }

  /** A clone of a snapshot: every context reseeds its random generators. */
  reseedAll(): void {
    for (const { context } of this.#entries.values()) context.reseed();
  }
}
