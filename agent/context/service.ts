// ContextService: code contexts whose state survives from one cell to the next, with rich
// results (docs/contexts.md). The registry keeps the contexts; each Execute call is one cell.
import { create } from '@bufbuild/protobuf';
import type * as grpc from '@grpc/grpc-js';
import type { ImplementationOf } from '../../proto/grpc.js';
import {
  CloseContextResponseSchema,
  ContextInfoSchema,
  ContextLimitsSchema,
  ContextState,
  CreateContextResponseSchema,
  ExecuteResponseSchema,
  ExecuteStartedSchema,
  ExecutionStatus,
  InterruptContextResponseSchema,
  ListContextsResponseSchema,
  RestartContextResponseSchema,
  type ContextInfo,
  type ContextService,
  type ExecuteRequest,
  type ExecuteResponse,
} from '../../proto/gen/runbox/v1/context_pb.js';
import type { AgentContext } from '../core/context.js';
import { failCall, rpcError, toStatus } from '../server/errors.js';
import type { CodeContext } from './context.js';
import { ContextRegistry } from './registry.js';
import { checkExecute } from './validate.js';

const STATES = { starting: ContextState.BUSY, idle: ContextState.IDLE, busy: ContextState.BUSY, dead: ContextState.DEAD } as const;

function info(ctx: AgentContext, context: CodeContext): ContextInfo {
  const { limits } = context.setup;
  return create(ContextInfoSchema, {
    contextId: context.id,
    language: context.setup.language,
    version: context.version,
    cwd: context.setup.cwd,
    state: STATES[context.state],
    executionCount: context.executionCount,
    createdAtMs: BigInt(context.createdAt),
    lastUsedAtMs: BigInt(context.lastUsedAt),
    pid: context.pid,
    limits: create(ContextLimitsSchema, { memoryBytes: BigInt(limits.memoryBytes), maxProcesses: limits.maxProcesses }),
    death: context.death?.message ?? '',
    idleTimeoutMs: BigInt(ctx.config.contextIdleMs),
  });
}

/** A unary answer from a promise; a refusal becomes its status. */
function answer<T>(work: () => Promise<T>, callback: grpc.sendUnaryData<T>): void {
  work().then(
    (response) => callback(null, response),
    (error: unknown) => callback(toStatus(error)),
  );
}

function execute(ctx: AgentContext, registry: ContextRegistry, call: grpc.ServerWritableStream<ExecuteRequest, ExecuteResponse>): void {
  let context: CodeContext;
  let checked;
  try {
    context = registry.get(call.request.contextId);
    checked = checkExecute(ctx, call.request);
  } catch (error) {
    failCall(call, error);
    return;
  }
  let open = true;
  const sink = {
    send: (response: ExecuteResponse) => {
      if (!open) return true;
      const more = call.write(response);
      if (!more) context.setPaused(true);
      return more;
    },
  };
  call.on('drain', () => context.setPaused(false));
  let execution;
  try {
    execution = context.execute(checked.code, checked.limits, sink);
  } catch (error) {
    failCall(call, error);
    return;
  }
  const { limits } = checked;
  call.write(
    create(ExecuteResponseSchema, {
      event: {
        case: 'started',
        value: create(ExecuteStartedSchema, {
          timeoutMs: BigInt(limits.timeoutMs),
          outputLimitBytes: BigInt(limits.outputLimitBytes),
          resultLimitBytes: BigInt(limits.resultLimitBytes),
        }),
      },
    }),
  );
  call.on('cancelled', () => {
    // The client went away or aborted: the cell is interrupted, the context lives on.
    open = false;
    execution.detach();
    context.setPaused(false);
    context.interrupt(ExecutionStatus.INTERRUPTED, 'the Execute call was cancelled');
  });
  void execution.finished.then(() => {
    if (open) call.end();
    open = false;
  });
}

export function contextService(ctx: AgentContext): { implementation: ImplementationOf<typeof ContextService>; registry: ContextRegistry } {
  const registry = new ContextRegistry(ctx);
  const implementation: ImplementationOf<typeof ContextService> = {
    createContext: (call, callback) =>
      answer(async () => create(CreateContextResponseSchema, { context: info(ctx, await registry.create(call.request)) }), callback),
    listContexts: (_call, callback) =>
      answer(async () => create(ListContextsResponseSchema, { contexts: registry.list().map((c) => info(ctx, c)) }), callback),
    restartContext: (call, callback) =>
      answer(async () => {
        const context = registry.get(call.request.contextId);
        await context.restart().catch((error: Error) => {
          throw rpcError('CONTEXT_START_FAILED', `the ${context.setup.language} context could not start again: ${error.message}`, {
            language: context.setup.language,
          });
        });
        return create(RestartContextResponseSchema, { context: info(ctx, context) });
      }, callback),
    closeContext: (call, callback) =>
      answer(async () => {
        registry.get(call.request.contextId);
        await registry.close(call.request.contextId, 'closed by CloseContext');
        return create(CloseContextResponseSchema);
      }, callback),
    interruptContext: (call, callback) =>
      answer(async () => {
        const context = registry.get(call.request.contextId);
        const interrupted = context.interrupt(ExecutionStatus.INTERRUPTED, 'the cell was interrupted (InterruptContext)');
        return create(InterruptContextResponseSchema, { interrupted });
      }, callback),
    execute: (call) => execute(ctx, registry, call),
  };
  return { implementation, registry };
}
