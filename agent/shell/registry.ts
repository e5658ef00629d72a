// The agent's shell sessions: start and look up by id, grace timers for detached sessions,
// and their place in ctx.live (so agent shutdown hangs them up).
import path from 'node:path';
import type { AgentContext, Killable } from '../core/context.js';
import { freshUuid } from '../core/ids.js';
import type { RunCgroup } from '../limits/cgroups.js';
import { log } from '../core/log.js';
import { rpcError } from '../server/errors.js';
import { KILL_AFTER_MS, ShellSession } from './session.js';
import { checkStart } from './validate.js';
import { userEnv } from '../usercode/env.js';
import { createPrivateDir, removePrivateDir } from '../usercode/workdir.js';

/** The agent's sessions, their grace timers and their place in ctx.live. */
export class ShellRegistry {
  readonly #sessions = new Map<string, { session: ShellSession; killable: Killable; grace?: NodeJS.Timeout }>();
  constructor(private readonly ctx: AgentContext) {}

  list(): ShellSession[] {
    return [...this.#sessions.values()].map((e) => e.session);
  }

  start(request: Parameters<typeof checkStart>[0]): ShellSession {
    checkStart(request, this.ctx.config.maxSourceBytes);
    if (this.#sessions.size >= this.ctx.config.maxShells) {
      throw rpcError(
        'TOO_MANY_SHELLS',
        `${this.#sessions.size} shell sessions are open, the most this agent keeps (--max-shells); close or detach-and-expire one`,
        {
          flag: '--max-shells',
          limit: String(this.ctx.config.maxShells),
        },
      );
    }
    const tenant = this.ctx.isolation.acquire();
    let session: ShellSession;
    // Under per-run isolation the shell's uid has a private HOME of its own, gone with it.
    const homeId = `shell-${freshUuid()}`;
    const who = tenant.identity(path.join(this.ctx.config.workDir, homeId));
    let home: string | undefined;
    let cgroup: RunCgroup | undefined;
    const cleanup = async () => {
      // A daemon the shell left behind dies with the session's cgroup.
      await cgroup?.killAll();
      cgroup?.remove();
      if (home) await removePrivateDir(home);
    };
    try {
      if (who.isolated) home = createPrivateDir(this.ctx.config.workDir, homeId, who.user);
      // Like a run: the agent's default memory and process limits, in a cgroup of its own.
      const { memoryBytes, maxProcesses } = this.ctx.config.defaults;
      cgroup = this.ctx.limits.createCgroup(homeId, { memoryBytes, maxProcesses });
      const env = userEnv(who, this.ctx.languages.searchPath, this.ctx.userEnv, { TERM: request.term || 'xterm-256color' }, request.env);
      session = new ShellSession(who, env, request, (s) => this.#exited(s), cgroup?.path);
    } catch (error) {
      void tenant.release(cleanup);
      throw rpcError(
        'SHELL_START_FAILED',
        `start.command ${JSON.stringify(request.command)}: could not start on a pty: ${(error as Error).message}`,
        { field: 'start.command' },
      );
    }
    const killable: Killable = { kill: () => this.remove(session, 'agent stopping') };
    // Once the shell has exited and its hang-up had its grace, what is left of the session dies
    // (its cgroup, its uid's processes), then its files go, and only then its uid.
    void session.ended.then(() => setTimeout(() => void tenant.release(cleanup), KILL_AFTER_MS).unref());
    this.#sessions.set(session.id, { session, killable });
    this.ctx.live.add(killable);
    this.ctx.shells.live++;
    this.ctx.shells.opened++;
    log.info('shell.started', { session: session.id, pid: session.pid, cols: request.cols, rows: request.rows });
    return session;
  }

  get(id: string): ShellSession {
    const entry = this.#sessions.get(id);
    if (!entry) {
      throw rpcError(
        'SHELL_NOT_FOUND',
        `shell session ${JSON.stringify(id)} does not exist (it exited, or its ${this.ctx.config.shellGraceMs} ms grace period ran out); ListShells shows the live ones`,
        {
          session: id,
        },
      );
    }
    return entry.session;
  }

  attached(session: ShellSession): void {
    const entry = this.#sessions.get(session.id);
    if (entry?.grace) clearTimeout(entry.grace);
    if (entry) entry.grace = undefined;
  }

  /** No client any more: the session lives on for the grace period. */
  detached(session: ShellSession): void {
    const entry = this.#sessions.get(session.id);
    if (!entry || session.attached) return;
    if (entry.grace) clearTimeout(entry.grace);
    entry.grace = setTimeout(() => this.remove(session, 'grace period over'), this.ctx.config.shellGraceMs);
    log.info('shell.detached', { session: session.id, grace_ms: this.ctx.config.shellGraceMs });
  }

  #exited(session: ShellSession): void {
    log.info('shell.exited', { session: session.id, exit_code: session.exit?.exitCode, signal: session.exit?.signal || undefined });
    // An exit seen by its client is final; one nobody saw stays for re-attach until the grace runs out.
    if (session.attached) this.remove(session, 'exited');
  }

  remove(session: ShellSession, reason: string): void {
    const entry = this.#sessions.get(session.id);
    if (!entry) return;
    if (entry.grace) clearTimeout(entry.grace);
    this.#sessions.delete(session.id);
    this.ctx.live.delete(entry.killable);
    this.ctx.shells.live--;
    session.hangUp();
    log.info('shell.closed', { session: session.id, reason });
  }
}
