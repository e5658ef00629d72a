// runbox-agent entry point: parse flags, detect what this machine offers, serve, stop cleanly.
import { parseConfig, ConfigError, USAGE } from './core/config.js';
import { resolveRunAs } from './core/users.js';
import { AgentToken, readToken } from './server/auth.js';
import { readEnvFile } from './core/env-file.js';
import { detectLanguages, detectingRegistry } from './languages/languages.js';
import { initLimits } from './limits/cgroups.js';
import { Admission, type AgentContext } from './core/context.js';
import { createServer, listen } from './server/server.js';
import { AGENT_VERSION } from './core/version.js';
import { log } from './core/log.js';
import { closeInheritedFds } from './core/inherited-fds.js';
import { Isolation, perRunProblem } from './usercode/isolation.js';
import { killUser } from './usercode/kill.js';
import { readClaimedToken } from './lifecycle/claimed-token.js';

const SHUTDOWN_GRACE_MS = 3_000;

async function main(): Promise<number> {
  const inherited = closeInheritedFds();
  let config;
  try {
    config = parseConfig(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`runbox-agent: ${error.message}\n\n${USAGE}`);
    return 2;
  }
  if (config === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  const problem = config.isolation === 'per-run' ? perRunProblem(config) : undefined;
  if (problem) {
    process.stderr.write(`runbox-agent: ${problem}\n`);
    return 2;
  }
  const startedAt = Date.now();
  // The toolchains' version commands run while the agent sets up and serves (languages.ts).
  const languages = detectingRegistry(detectLanguages());
  // A claimed clone's own token wins over the template's --token-file, which all its clones share.
  const claimed = config.claimedTokenFile === undefined ? undefined : readClaimedToken(config.claimedTokenFile);
  const token = new AgentToken(claimed ?? (config.tokenFile === undefined ? undefined : readToken(config.tokenFile)));
  const runAs = resolveRunAs(config.user);
  const userEnv = config.envFile === undefined ? {} : readEnvFile(config.envFile);
  const limits = await initLimits(config);
  const ctx: AgentContext = {
    config,
    runAs,
    isolation: new Isolation(config.isolation, runAs, config.runUids, killUser),
    userEnv,
    startedAt,
    languages,
    limits,
    admission: new Admission(config.maxConcurrent),
    live: new Set(),
    shells: { live: 0, opened: 0 },
    contexts: { live: 0, opened: 0 },
  };
  const { server, health } = createServer(ctx, token);
  const { gate } = await listen(server, config.listen);
  log.info('agent.ready', {
    version: AGENT_VERSION,
    run_as: runAs.name,
    isolation: config.isolation,
    limits: limits.kind,
    auth: token.required,
    claimed: claimed !== undefined || undefined,
    start_ms: Date.now() - startedAt,
    inherited_fds_closed: inherited || undefined,
  });
  void languages.ready.then(() =>
    log.info('agent.languages', {
      languages: languages
        .list()
        .map((l) => l.name)
        .join(','),
      found_ms: Date.now() - startedAt,
    }),
  );

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) return;
      stopping = true;
      log.info('agent.stopping', { signal, live: ctx.live.size });
      health.stopServing();
      gate.close();
      for (const item of [...ctx.live]) item.kill(`agent received ${signal}`);
      // Calls that do not finish in the grace period are cut; the agent exits either way.
      const force = setTimeout(() => {
        log.warn('agent.force_shutdown', { after_ms: SHUTDOWN_GRACE_MS });
        server.forceShutdown();
        resolve(0);
      }, SHUTDOWN_GRACE_MS);
      server.tryShutdown(() => {
        clearTimeout(force);
        resolve(0);
      });
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}

main().then(
  (code) => {
    // Give in-flight stderr lines a moment to flush, then exit even if a handle lingers.
    setTimeout(() => process.exit(code), 50).unref();
    process.exitCode = code;
  },
  (error: Error) => {
    log.error('agent.failed', { error: error.message });
    process.exit(1);
  },
);
