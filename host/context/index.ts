// Host side of ContextService: `sb.contexts.create('python')` starts a code context whose
// variables, imports and functions survive from one cell to the next (docs/contexts.md).
import { create } from '@bufbuild/protobuf';
import {
  ContextLimitsSchema,
  ContextService,
  CreateContextRequestSchema,
  ListContextsRequestSchema,
} from '../../proto/gen/runbox/v1/context_pb.js';
import { InvalidArgumentError, NotFoundError } from '../errors.js';
import type { CallOptions, Connection } from '../transport/connection.js';
import { CodeContext } from './handle.js';
import { toContextInfo } from './info.js';
import type { ContextInfo, ContextOptions } from './types.js';

export type * from './types.js';
export { CodeContext } from './handle.js';

/** How long create() waits for an interpreter to start by default: importing IPython takes seconds in an emulated VM. */
const CREATE_TIMEOUT_MS = 180_000;

function checkLimit(name: 'memoryBytes' | 'maxProcesses', value: number | undefined): void {
  if (value !== undefined && (!Number.isSafeInteger(value) || value < 0)) {
    throw new InvalidArgumentError(`options.${name} ${value}: must be a non-negative integer (0 = the agent's default)`, {
      reason: 'LIMIT_INVALID',
      metadata: { option: name },
    });
  }
}

/** The context capability of a Sandbox: `sb.contexts.create()`, `list()`, `get()`. */
export class ContextApi {
  readonly #connection: Connection;

  /** Not public: a Sandbox has one. */
  constructor(internal: never);
  /** @internal Created by Sandbox. */
  constructor(connection: Connection);
  constructor(connection: Connection) {
    this.#connection = connection;
  }

  /**
   * Starts a context and resolves once it is ready for code.
   *
   * ```ts
   * const ctx = await sb.contexts.create('python', { cwd: '/home/runbox' });
   * await ctx.run('x = 21');
   * (await ctx.run('x * 2')).text; // '42'
   * ```
   * @throws InvalidArgumentError (LANGUAGE_UNKNOWN, CONTEXT_LANGUAGE_UNSUPPORTED: contexts exist for
   *   python and javascript), ResourceExhaustedError (TOO_MANY_CONTEXTS), FailedPreconditionError
   *   (CONTEXT_START_FAILED: e.g. no IPython in the image), AbortError, SandboxUnavailableError.
   */
  async create(language: string, options: ContextOptions = {}): Promise<CodeContext> {
    checkLimit('memoryBytes', options.memoryBytes);
    checkLimit('maxProcesses', options.maxProcesses);
    const request = create(CreateContextRequestSchema, {
      language,
      cwd: options.cwd ?? '',
      env: options.env ?? {},
      limits: create(ContextLimitsSchema, { memoryBytes: BigInt(options.memoryBytes ?? 0), maxProcesses: options.maxProcesses ?? 0 }),
    });
    const response = await this.#connection.unary(ContextService.method.createContext, request, `create ${language} context`, {
      requestTimeoutMs: CREATE_TIMEOUT_MS,
      ...options,
    });
    return new CodeContext(this.#connection, toContextInfo(response.context));
  }

  /** The sandbox's contexts, dead ones included until closed. */
  async list(options: CallOptions = {}): Promise<ContextInfo[]> {
    const response = await this.#connection.unary(
      ContextService.method.listContexts,
      create(ListContextsRequestSchema),
      'list contexts',
      options,
    );
    return response.contexts.map(toContextInfo);
  }

  /** A handle on an existing context by id (one another process created, say). */
  async get(id: string, options: CallOptions = {}): Promise<CodeContext> {
    const found = (await this.list(options)).find((c) => c.id === id);
    if (!found)
      throw new NotFoundError(`context ${id} does not exist (closed, or idle past the agent's --context-idle-ms)`, {
        reason: 'CONTEXT_NOT_FOUND',
        metadata: { context: id },
      });
    return new CodeContext(this.#connection, found);
  }
}
