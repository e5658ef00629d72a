// CodeContext: the SDK's handle on one context in the sandbox. `ctx.run(code)` runs a cell;
// state (variables, imports, functions) survives from one cell to the next until restart().
import { create } from '@bufbuild/protobuf';
import {
  CloseContextRequestSchema,
  ContextService,
  InterruptContextRequestSchema,
  ListContextsRequestSchema,
  RestartContextRequestSchema,
} from '../../proto/gen/runbox/v1/context_pb.js';
import { NotFoundError } from '../errors.js';
import type { CallOptions, Connection } from '../transport/connection.js';
import { executeCell } from './execute.js';
import { toContextInfo } from './info.js';
import type { ContextInfo, ContextLanguage, Execution, RunCellOptions } from './types.js';

export class CodeContext {
  readonly id: string;
  readonly language: ContextLanguage;
  /** The interpreter behind it, e.g. "IPython 8.5.0, Python 3.11.2". */
  readonly version: string;
  readonly cwd: string;
  readonly #connection: Connection;

  /** Not public: `sb.contexts.create()` or `get()` makes a CodeContext. */
  constructor(...internal: [never, never]);
  /** @internal Made by ContextApi. */
  constructor(connection: Connection, info: ContextInfo);
  constructor(connection: Connection, info: ContextInfo) {
    this.#connection = connection;
    this.id = info.id;
    this.language = info.language;
    this.version = info.version;
    this.cwd = info.cwd;
  }

  /**
   * Runs one cell and resolves with its Execution: output, rich results (the last
   * expression's value is the main one), the execution count, and the exception as data.
   *
   * ```ts
   * await ctx.run('import pandas as pd; df = pd.DataFrame({"a": [1, 2]})');
   * const e = await ctx.run('df');           // e.results[0].html holds a <table>
   * ```
   * @throws FailedPreconditionError (CONTEXT_BUSY: another cell runs; CONTEXT_DEAD: restart it),
   *   NotFoundError (CONTEXT_NOT_FOUND: closed or reaped), AbortError (options.signal: the cell was
   *   interrupted, the context lives on), InvalidArgumentError, SandboxUnavailableError.
   */
  run(code: string, options: RunCellOptions = {}): Promise<Execution> {
    return executeCell(this.#connection, this.id, code, options);
  }

  /** Interrupts the running cell (KeyboardInterrupt in Python); false when none runs. */
  async interrupt(options: CallOptions = {}): Promise<boolean> {
    const request = create(InterruptContextRequestSchema, { contextId: this.id });
    const response = await this.#connection.unary(ContextService.method.interruptContext, request, `interrupt context ${this.id}`, options);
    return response.interrupted;
  }

  /** Ends the context's process and starts a fresh one under the same id: all state is gone. */
  async restart(options: CallOptions = {}): Promise<ContextInfo> {
    const request = create(RestartContextRequestSchema, { contextId: this.id });
    const response = await this.#connection.unary(ContextService.method.restartContext, request, `restart context ${this.id}`, {
      requestTimeoutMs: 180_000,
      ...options,
    });
    return toContextInfo(response.context);
  }

  /** Ends the context and everything it started. Closing a closed context is not an error. */
  async close(options: CallOptions = {}): Promise<void> {
    const request = create(CloseContextRequestSchema, { contextId: this.id });
    try {
      await this.#connection.unary(ContextService.method.closeContext, request, `close context ${this.id}`, options);
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
    }
  }

  /** The context as the agent sees it now (state, execution count, death). */
  async info(options: CallOptions = {}): Promise<ContextInfo> {
    const response = await this.#connection.unary(
      ContextService.method.listContexts,
      create(ListContextsRequestSchema),
      'list contexts',
      options,
    );
    const found = response.contexts.find((c) => c.contextId === this.id);
    if (!found)
      throw new NotFoundError(`context ${this.id} is gone (closed, or idle past the agent's --context-idle-ms)`, {
        reason: 'CONTEXT_NOT_FOUND',
        metadata: { context: this.id },
      });
    return toContextInfo(found);
  }
}
