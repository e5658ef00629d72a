// Command-line flags of runbox-agent, parsed into one immutable config.
import { parseArgs } from 'node:util';
import os from 'node:os';
import path from 'node:path';

export type ListenTarget = { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string };

/** Per-run limits: the default used when a request leaves a field at 0, and the most a request may ask for. */
export interface RunLimitDefaults {
  timeoutMs: number;
  compileTimeoutMs: number;
  outputLimitBytes: number;
  memoryBytes: number;
  maxProcesses: number;
}

export interface AgentConfig {
  listen: ListenTarget[];
  tokenFile: string | undefined;
  /** Where Claim keeps the token it was given; read at start in preference to tokenFile. */
  claimedTokenFile: string | undefined;
  /** Claim may reseed the kernel RNG and set the clock: the agent owns this machine (a VM). */
  manageGuest: boolean;
  /** KEY=VALUE file whose variables every run and shell starts with (the image's env). */
  envFile: string | undefined;
  /** Who runs user code; undefined = decide at start (runbox if root and it exists, else ourselves). */
  user: string | undefined;
  maxConcurrent: number;
  maxSourceBytes: number;
  maxMessageBytes: number;
  cgroups: 'auto' | 'off';
  workDir: string;
  cacheDir: string;
  defaults: RunLimitDefaults;
  maximums: RunLimitDefaults;
  /** How long a shell session without a client lives before it is hung up. */
  shellGraceMs: number;
  /** Live shell sessions before RESOURCE_EXHAUSTED. */
  maxShells: number;
  /** Open code contexts before RESOURCE_EXHAUSTED. */
  maxContexts: number;
  /** A context without a cell for this long is closed. */
  contextIdleMs: number;
  /** How long the file worker may take to answer an op before the op fails (and a silent worker is replaced). */
  fileTimeoutMs: number;
  /** A connection with no call in flight for this long is closed. */
  idleTimeoutMs: number;
  /** shared: all user code is the run-as user; per-run: each run and shell a uid of its own. */
  isolation: 'shared' | 'per-run';
  /** The uids per-run isolation hands out, first..last inclusive. */
  runUids: { first: number; last: number };
}

export const USAGE = `Usage: runbox-agent [options]

Serves the runbox gRPC API (proto/runbox/v1) for running code, shells and files.

Options:
  --listen URL            tcp://HOST:PORT or unix:///PATH; repeatable
                          (default: tcp://0.0.0.0:5000 and unix:///run/runbox/agent.sock)
  --token-file FILE       require "authorization: Bearer <token>" on every RPC but Health;
                          the token is the file's bytes up to the first NUL, whitespace
                          trimmed (a raw block device padded with zeros works)
  --claimed-token-file FILE
                          where LifecycleService.Claim keeps the token it was given
                          (written 0600 in a directory only the agent may write); when
                          it holds a token at start, that token is required instead of
                          --token-file's (an agent restarted in a claimed clone)
  --manage-guest          the agent owns this machine (a VM): Claim mixes the host's
                          entropy into the kernel RNG and sets the wall clock; without
                          it Claim only replaces the token
  --env-file FILE         variables every run and shell starts with (KEY=VALUE lines,
                          values optionally single-quoted; the request's env wins)
  --user NAME             run user code as NAME (default: runbox when the agent is root
                          and that user exists, else the agent's own user)
  --max-concurrent N      concurrent runs before RESOURCE_EXHAUSTED (default 32)
  --max-source-bytes N    largest source/argv+env accepted (default 4194304)
  --max-message-bytes N   largest gRPC message accepted (default 16777216)
  --cgroups auto|off      per-run memory/process limits with cgroup v2 (default auto)
  --work-dir DIR          parent of per-run private directories
  --cache-dir DIR         compile cache (Go/Rust binaries, Go build cache)
  --default-timeout-ms N  run-stage wall limit when a request gives none (default 30000)
  --default-output-bytes N
                          bytes kept per stream per stage (default 1048576)
  --default-memory-bytes N
                          cgroup memory.max per run (default 536870912)
  --default-max-processes N
                          cgroup pids.max per run (default 256)
  --shell-grace-ms N      keep a shell session without a client N ms (default 60000)
  --file-timeout-ms N     a file operation the file worker has not answered after N ms
                          fails UNAVAILABLE; a worker silent that long is replaced (default 60000)
  --idle-timeout-ms N     close a connection with no call in flight for N ms, one that
                          never sent a byte included (default 120000; clients reconnect)
  --max-shells N          live shell sessions before RESOURCE_EXHAUSTED (default 64)
  --max-contexts N        open code contexts before RESOURCE_EXHAUSTED (default 8)
  --context-idle-ms N     close a code context that ran no cell for N ms (default 1800000)
  --isolation MODE        shared: all user code is the --user user and shares its files,
                          processes and /tmp (default); per-run: every run, shell and context is a
                          uid of its own (from --run-uids) with a private directory, /tmp,
                          /var/tmp, /dev/shm and a /proc showing only its own processes;
                          needs root and util-linux (unshare, setpriv)
  --run-uids FIRST-LAST   uids per-run isolation hands out; no user may own them and there
                          must be at least --max-concurrent + --max-shells + --max-contexts
                          (default 61000-61999)
  --help                  print this help
`;

export class ConfigError extends Error {}

export function parseListen(url: string): ListenTarget {
  const tcp = /^tcp:\/\/(\[[^\]]+\]|[^:/]+):(\d{1,5})$/.exec(url);
  if (tcp) {
    const port = Number(tcp[2]);
    if (port > 65535) throw new ConfigError(`--listen ${url}: port must be 0-65535`);
    return { kind: 'tcp', host: tcp[1]!.replace(/^\[|\]$/g, ''), port };
  }
  if (url.startsWith('unix://')) {
    const socketPath = url.slice('unix://'.length);
    if (!path.isAbsolute(socketPath)) throw new ConfigError(`--listen ${url}: unix socket path must be absolute (unix:///path)`);
    return { kind: 'unix', path: socketPath };
  }
  throw new ConfigError(`--listen ${url}: expected tcp://HOST:PORT or unix:///PATH`);
}

function positiveInt(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) throw new ConfigError(`--${flag} ${value}: expected a positive integer`);
  return n;
}

/** FIRST-LAST: uids an unprivileged range can use (not root, not the system range, below 2^31). */
export function parseUidRange(value: string): { first: number; last: number } {
  const match = /^(\d{1,10})-(\d{1,10})$/.exec(value);
  const first = Number(match?.[1]);
  const last = Number(match?.[2]);
  if (!match || first < 1000 || last < first || last >= 2 ** 31 - 1) {
    throw new ConfigError(`--run-uids ${value}: expected FIRST-LAST with 1000 <= FIRST <= LAST < 2147483647`);
  }
  return { first, last };
}

/** The flags parseArgs accepts: every value is a string checked below, so an error can name the flag. */
const FLAGS = {
  listen: { type: 'string', multiple: true },
  'token-file': { type: 'string' },
  'claimed-token-file': { type: 'string' },
  'manage-guest': { type: 'boolean' },
  'env-file': { type: 'string' },
  user: { type: 'string' },
  'max-concurrent': { type: 'string' },
  'max-source-bytes': { type: 'string' },
  'max-message-bytes': { type: 'string' },
  cgroups: { type: 'string' },
  'work-dir': { type: 'string' },
  'cache-dir': { type: 'string' },
  'default-timeout-ms': { type: 'string' },
  'default-output-bytes': { type: 'string' },
  'default-memory-bytes': { type: 'string' },
  'default-max-processes': { type: 'string' },
  'shell-grace-ms': { type: 'string' },
  'file-timeout-ms': { type: 'string' },
  'idle-timeout-ms': { type: 'string' },
  'max-shells': { type: 'string' },
  'max-contexts': { type: 'string' },
  'context-idle-ms': { type: 'string' },
  isolation: { type: 'string' },
  'run-uids': { type: 'string' },
  help: { type: 'boolean' },
} as const;

type FlagValues = ReturnType<typeof parseArgs<{ options: typeof FLAGS }>>['values'];

/** The per-run defaults a request falls back to, and the message-size pair that must stay ordered. */
function limitsOf(v: FlagValues): Pick<AgentConfig, 'defaults' | 'maximums' | 'maxSourceBytes' | 'maxMessageBytes'> {
  const defaults: RunLimitDefaults = {
    timeoutMs: positiveInt('default-timeout-ms', v['default-timeout-ms'], 30_000),
    compileTimeoutMs: 120_000,
    outputLimitBytes: positiveInt('default-output-bytes', v['default-output-bytes'], 1 << 20),
    memoryBytes: positiveInt('default-memory-bytes', v['default-memory-bytes'], 512 << 20),
    maxProcesses: positiveInt('default-max-processes', v['default-max-processes'], 256),
  };
  const maxSourceBytes = positiveInt('max-source-bytes', v['max-source-bytes'], 4 << 20);
  const maxMessageBytes = positiveInt('max-message-bytes', v['max-message-bytes'], 16 << 20);
  if (maxMessageBytes <= maxSourceBytes) {
    throw new ConfigError('--max-message-bytes must be larger than --max-source-bytes so oversized sources get a precise error');
  }
  return {
    defaults,
    maxSourceBytes,
    maxMessageBytes,
    // What a request may ask for at most: generous, but bounded so one run can't hold the agent forever.
    maximums: {
      timeoutMs: 60 * 60_000,
      compileTimeoutMs: 30 * 60_000,
      outputLimitBytes: 64 << 20,
      memoryBytes: Math.max(defaults.memoryBytes, os.totalmem()),
      maxProcesses: 32_768,
    },
  };
}

/** How many tenants may be live at once, and (per-run) whether the uid range holds them all. */
function tenancyOf(v: FlagValues): Pick<AgentConfig, 'isolation' | 'runUids' | 'maxConcurrent' | 'maxShells' | 'maxContexts'> {
  const isolation = v.isolation ?? 'shared';
  if (isolation !== 'shared' && isolation !== 'per-run') throw new ConfigError(`--isolation ${isolation}: expected shared or per-run`);
  const maxConcurrent = positiveInt('max-concurrent', v['max-concurrent'], 32);
  const maxShells = positiveInt('max-shells', v['max-shells'], 64);
  const maxContexts = positiveInt('max-contexts', v['max-contexts'], 8);
  const runUids = parseUidRange(v['run-uids'] ?? '61000-61999');
  const tenants = maxConcurrent + maxShells + maxContexts;
  if (isolation === 'per-run' && runUids.last - runUids.first + 1 < tenants) {
    throw new ConfigError(
      `--run-uids ${runUids.first}-${runUids.last}: ${runUids.last - runUids.first + 1} uids, fewer than --max-concurrent + --max-shells + --max-contexts (${tenants})`,
    );
  }
  return { isolation, runUids, maxConcurrent, maxShells, maxContexts };
}

export function parseConfig(argv: string[]): AgentConfig | 'help' {
  let v: FlagValues;
  try {
    v = parseArgs({ args: argv, strict: true, allowPositionals: false, options: FLAGS }).values;
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
  if (v.help) return 'help';
  const cgroups = v.cgroups ?? 'auto';
  if (cgroups !== 'auto' && cgroups !== 'off') throw new ConfigError(`--cgroups ${cgroups}: expected auto or off`);
  const isRoot = process.getuid?.() === 0;
  return {
    listen: (v.listen ?? ['tcp://0.0.0.0:5000', 'unix:///run/runbox/agent.sock']).map(parseListen),
    tokenFile: v['token-file'],
    claimedTokenFile: v['claimed-token-file'],
    manageGuest: v['manage-guest'] ?? false,
    envFile: v['env-file'],
    user: v.user,
    cgroups,
    workDir: v['work-dir'] ?? (isRoot ? '/var/lib/runbox/runs' : path.join(os.tmpdir(), 'runbox-runs')),
    cacheDir: v['cache-dir'] ?? (isRoot ? '/var/cache/runbox' : path.join(os.homedir(), '.cache', 'runbox-agent')),
    shellGraceMs: positiveInt('shell-grace-ms', v['shell-grace-ms'], 60_000),
    fileTimeoutMs: positiveInt('file-timeout-ms', v['file-timeout-ms'], 60_000),
    idleTimeoutMs: positiveInt('idle-timeout-ms', v['idle-timeout-ms'], 120_000),
    contextIdleMs: positiveInt('context-idle-ms', v['context-idle-ms'], 30 * 60_000),
    ...limitsOf(v),
    ...tenancyOf(v),
  };
}
