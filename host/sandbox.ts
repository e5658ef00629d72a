// Sandbox: the SDK's handle on one agent. The capability rooms do the work (process/,
// shell/, files/, system/, lifecycle/); this class wires them to one connection.
import { Connection, type CallOptions, type ConnectionOptions } from './transport/connection.js';
import { AbortError, AuthenticationError, InvalidArgumentError, RunboxError, TimeoutError } from './errors.js';
import { parseTarget, formatTarget, type Target } from './transport/target.js';
import { ProcessApi, type ProcessHandle, type RunCodeOptions, type RunResult } from './process/index.js';
import { ContextApi, type CodeContext, type Execution, type RunCellOptions } from './context/index.js';
import { ShellApi } from './shell/index.js';
import { FilesApi } from './files/index.js';
import { SystemApi, type Health, type Language, type SystemInfo } from './system/index.js';
import { claim, freezeUserCode, thawUserCode, type ClaimRequest, type ClaimResult, type FreezeResult } from './lifecycle/index.js';

export type { ClaimRequest, ClaimResult, FreezeResult } from './lifecycle/index.js';

/** Options of `Sandbox.connect`: `token` and the default `requestTimeoutMs` of unary calls. */
export type SandboxOptions = ConnectionOptions;

export interface WaitReadyOptions {
  /** Give up after this long (default 60000). */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** Sleeps, waking early on abort; the abort listener is removed either way (waitReady loops). */
const delay = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });

/** The names each context language answers to (the agent's aliases). */
const CONTEXT_ALIASES: Record<string, string[]> = {
  python: ['python', 'py', 'python3'],
  javascript: ['javascript', 'js', 'node', 'nodejs'],
};

/** Options of `sb.runCode(language, code, { context })`: the cell runs in that context. */
export type RunInContextOptions = RunCellOptions & { context: CodeContext };

/** Set by Sandbox's static block: claimSandbox reaches the connection, nothing public does. */
let connectionOf: (sandbox: Sandbox) => Connection;

/**
 * The SDK's handle on one agent: `await Sandbox.connect(target, { token })`, then `waitReady()`
 * while a VM boots. Runs, shells and files go through its members; `close()` when done.
 */
export class Sandbox {
  readonly target: Target;
  /** Run an argv command: `await sb.exec(['ls', '-l'])`. See ProcessApi.exec. */
  readonly exec: ProcessApi['exec'];
  /** Interactive shells on a pty: `sb.shells.open()`, `attach(id)`, `list()`. */
  readonly shells: ShellApi;
  /** Files in the sandbox, read and written as the sandbox's user. */
  readonly files: FilesApi;
  /** Code contexts whose state survives between cells: `sb.contexts.create('python')`, `list()`, `get(id)`. */
  readonly contexts: ContextApi;
  readonly #connection: Connection;
  readonly #processes: ProcessApi;
  readonly #system: SystemApi;

  static {
    connectionOf = (sandbox) => sandbox.#connection;
  }

  /** Not public: `Sandbox.connect()` (or `createSandbox` of `runbox/vm`) makes a Sandbox. */
  protected constructor(...internal: [never, never]);
  /** @internal Sandbox.connect, or a subclass made by the VM code (LocalSandbox). */
  protected constructor(target: Target, connection: Connection);
  protected constructor(target: Target, connection: Connection) {
    this.target = target;
    this.#connection = connection;
    const processes = new ProcessApi(connection);
    this.#processes = processes;
    this.exec = processes.exec.bind(processes);
    this.shells = new ShellApi(connection);
    this.files = new FilesApi(connection);
    this.contexts = new ContextApi(connection);
    this.#system = new SystemApi(connection);
  }

  /**
   * Runs source code: a fresh process per call (see ProcessApi.runCode), or, with
   * `{ context }`, a cell in that code context, whose state persists (see CodeContext.run).
   *
   * ```ts
   * const r = await sb.runCode('python', 'print(1)');                    // RunResult
   * const e = await sb.runCode('python', 'x = 1; x', { context: ctx });  // Execution
   * ```
   */
  runCode(language: string, source: string | Uint8Array, options: RunInContextOptions): Promise<Execution>;
  runCode(language: string, source: string | Uint8Array, options: RunCodeOptions & { background: true }): Promise<ProcessHandle>;
  runCode(language: string, source: string | Uint8Array, options?: RunCodeOptions): Promise<RunResult>;
  runCode(
    language: string,
    source: string | Uint8Array,
    options: RunCodeOptions | RunInContextOptions = {},
  ): Promise<RunResult | ProcessHandle | Execution> {
    if (!('context' in options)) return this.#processes.runCode(language, source, options);
    const { context, ...cell } = options;
    if (!CONTEXT_ALIASES[context.language]?.includes(language.toLowerCase())) {
      throw new InvalidArgumentError(`runCode: language ${JSON.stringify(language)} does not match the context's (${context.language})`, {
        reason: 'CONTEXT_LANGUAGE_MISMATCH',
        metadata: { option: 'context' },
      });
    }
    return context.run(typeof source === 'string' ? source : new TextDecoder().decode(source), cell);
  }

  /**
   * Opens a channel to an agent: `tcp://HOST:PORT`, `unix:///PATH` or `vsock:///UDS:PORT`.
   * Connecting does not wait for the agent: call `waitReady()` while a VM boots.
   */
  static async connect(target: string, options: SandboxOptions = {}): Promise<Sandbox> {
    const parsed = parseTarget(target);
    return new Sandbox(parsed, await Connection.open(parsed, options));
  }

  /** The agent's health. Needs no token. */
  health(options: CallOptions = {}): Promise<Health> {
    return this.#system.health(options);
  }

  /**
   * Polls Health until the agent answers (a connected socket is not readiness), then checks
   * the token with one authenticated call so a wrong token fails here, not on first use.
   */
  async waitReady(options: WaitReadyOptions = {}): Promise<Health> {
    const timeoutMs = options.timeoutMs ?? 60_000;
    const deadline = Date.now() + timeoutMs;
    let lastError: unknown;
    for (let attempt = 0; ; attempt++) {
      if (options.signal?.aborted) throw new AbortError('waitReady: aborted');
      const left = deadline - Date.now();
      if (left <= 0) break;
      try {
        const health = await this.health({ signal: options.signal, requestTimeoutMs: Math.min(left, 5_000) });
        if (health.authRequired) await this.languages({ signal: options.signal });
        return health;
      } catch (error) {
        if (error instanceof AuthenticationError || error instanceof AbortError) throw error;
        lastError = error;
      }
      // Polls at most 250 ms apart: the agent's readiness is noticed within a quarter second.
      await delay(Math.min(100 * 2 ** attempt, 250, Math.max(0, deadline - Date.now())), options.signal);
    }
    const why = lastError instanceof RunboxError ? lastError.message : String(lastError);
    throw new TimeoutError(
      `waitReady: ${formatTarget(this.target)} did not answer Health within ${timeoutMs} ms (last error: ${why}); raise timeoutMs or check the VM's console log`,
      { cause: lastError, reason: 'READY_TIMEOUT', metadata: { option: 'timeoutMs' } },
    );
  }

  /** Languages the agent found toolchains for. */
  languages(options: CallOptions = {}): Promise<Language[]> {
    return this.#system.languages(options);
  }

  /** CPU, memory, disks, OS, load and network of the sandbox (the VM, not the host). */
  systemInfo(options: CallOptions = {}): Promise<SystemInfo> {
    return this.#system.systemInfo(options);
  }

  /** Closes the channel (and the vsock proxy). Runs in flight are cancelled by the agent. */
  async close(): Promise<void> {
    // The connection cancels every streaming call first: grpc-js lets calls outlive a closed
    // client, and the agent kills a run's tree only when its call ends.
    await this.#connection.close();
  }
}

/**
 * Claims the sandbox restored from a snapshot (LifecycleService.Claim, docs/lifecycle.md):
 * the agent requires `request.token` from the next call on, and `sandbox` sends it from then
 * on. Authenticated with the sandbox's current token. For the VM code (`runbox/vm`), not a
 * Sandbox member: only whoever restored the VM has a reason to call it.
 */
export function claimSandbox(sandbox: Sandbox, request: ClaimRequest, options: CallOptions = {}): Promise<ClaimResult> {
  return claim(connectionOf(sandbox), request, options);
}

/**
 * Stops every process of the sandbox's user code before its memory is saved
 * (LifecycleService.Freeze): a Claim, thawSandbox or the agent's auto-thaw deadline (guest
 * time, default 60000 ms) lets it go on. For the VM code, as claimSandbox.
 */
export function freezeSandbox(sandbox: Sandbox, request: { autoThawMs?: number } = {}, options: CallOptions = {}): Promise<FreezeResult> {
  return freezeUserCode(connectionOf(sandbox), request, options);
}

/** Lets user code stopped by freezeSandbox go on; true when it had been frozen. */
export function thawSandbox(sandbox: Sandbox, options: CallOptions = {}): Promise<boolean> {
  return thawUserCode(connectionOf(sandbox), options);
}
