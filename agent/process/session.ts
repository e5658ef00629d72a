// One RunCode or Exec call: the first message starts the run (validated into a plan), later
// ones carry stdin, close stdin or send a signal; the run's events go back as responses. The
// stages themselves live in stage.ts.
import path from 'node:path';
import { freshUuid } from '../core/ids.js';
import { create } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import {
  FinishedSchema,
  OutputStream,
  Stage,
  Status,
  StageResultSchema,
  type ExecRequest,
  type Finished,
  type ProcessInput,
  type RunCodeRequest,
  type StageResult,
} from '../../proto/gen/runbox/v1/process_pb.js';
import type { AgentContext, Killable } from '../core/context.js';
import { log } from '../core/log.js';
import { CompileCache } from './cache.js';
import { aloneBefore } from './tenancy.js';
import { compileStageSpec, keepCompiled, type CompileWhere } from './compile.js';
import { planExec, planRunCode, limitsMessage, type RunPlan, type RunCodePlan } from './plan.js';
import { checkSignal } from '../usercode/signals.js';
import { userEnv } from '../usercode/env.js';
import type { Identity, Tenant } from '../usercode/isolation.js';
import { asRpcError, failCall, rpcError, type RpcError } from '../server/errors.js';
import { RunningStage, type StreamName } from './stage.js';
import { OutputFlow } from './flow.js';
import { encodeOutputResponse } from './output-wire.js';
import { createPrivateDir, removePrivateDir, writePrivateFile } from '../usercode/workdir.js';

import { STATUS_NAMES, execResponder, internalResult, runCodeResponder, startedMessage, type Responder } from './responder.js';

/** Stdin bytes queued while no process can take them (compile stage) before the call is paused. */
const MAX_QUEUED_STDIN = 1 << 20;

export type RunCall = grpc.ServerDuplexStream<RunCodeRequest | ExecRequest, unknown>;

export class RunSession implements Killable {
  #state: 'waiting' | 'running' | 'done' = 'waiting';
  #plan: RunPlan | undefined;
  /** The stage whose processes are alive right now. */
  #stage: RunningStage | undefined;
  /** Holds the program's pipes while the client is behind (flow.ts). */
  readonly #flow: OutputFlow;
  /** The run stage is up and takes stdin directly. */
  #stdinLive = false;
  #queued: Uint8Array[] = [];
  #queuedBytes = 0;
  #closeQueued = false;
  #stdinClosed = false;
  #cancelled: string | undefined;
  /** Sends Started; set by #execute, cleared once it ran. */
  #announce: (() => void) | undefined;

  constructor(
    private readonly ctx: AgentContext,
    private readonly cache: () => CompileCache,
    private readonly call: RunCall,
    private readonly kind: 'runCode' | 'exec',
  ) {
    this.#flow = new OutputFlow(call, (held) => this.#stage?.setOutputPaused(held));
    call.on('data', (request: RunCodeRequest | ExecRequest) => this.#onRequest(request));
    call.on('end', () => this.#onHalfClose());
    call.on('cancelled', () => this.#cancel('the client cancelled the call or disconnected'));
    call.on('error', () => {
      /* a broken stream ends in 'cancelled' too */
    });
    // A client that cancels right after `start` may do so before this handler ran: the
    // 'cancelled' event is then already past, and only the flag tells.
    if (call.cancelled) this.#cancel('the client cancelled the call or disconnected');
  }

  get #responder(): Responder {
    return this.kind === 'runCode' ? runCodeResponder : execResponder;
  }

  /** Killable: the agent is stopping. */
  kill(reason: string): void {
    this.#cancel(`the agent is shutting down (${reason})`);
  }

  #send(message: unknown, outputBytes = 0): void {
    if (message !== undefined) this.#flow.send(message, outputBytes);
  }

  #fail(error: RpcError): void {
    if (this.#state === 'done') return;
    const wasRunning = this.#state === 'running';
    this.#state = 'done';
    if (wasRunning) this.#cancel(`the run was aborted: ${error.message}`);
    log.warn('run.rejected', { rpc: this.kind, reason: error.reason, message: error.message });
    failCall(this.call, error);
  }

  #cancel(message: string): void {
    if (this.#cancelled !== undefined) return;
    this.#cancelled = message;
    this.#stage?.cancel(message);
  }

  #onRequest(request: RunCodeRequest | ExecRequest): void {
    if (this.#state === 'done') return;
    const event = request.event;
    if (this.#state === 'waiting') {
      if (event.case !== 'start') {
        const got = event.case === undefined ? 'an empty message' : `\`${event.case}\``;
        this.#fail(
          rpcError(
            'MESSAGE_UNEXPECTED',
            `the first message must be \`start\` (${this.kind === 'runCode' ? 'RunCodeStart' : 'ExecStart'}); got ${got}`,
            { field: 'start' },
          ),
        );
        return;
      }
      this.#start(event.value);
      return;
    }
    if (event.case === 'start') {
      this.#fail(
        rpcError('MESSAGE_UNEXPECTED', '`start` may only be the first message of a call; send `input` after it', { field: 'start' }),
      );
      return;
    }
    if (event.case === 'input') this.#onInput(event.value);
    else
      this.#fail(
        rpcError('MESSAGE_UNEXPECTED', 'a message after `start` must be `input` (ProcessInput); got an empty message', { field: 'input' }),
      );
  }

  #onHalfClose(): void {
    if (this.#state === 'waiting') {
      this.#fail(rpcError('MESSAGE_UNEXPECTED', 'the client closed its side of the stream before sending `start`', { field: 'start' }));
      return;
    }
    // No more input can come: the program sees end-of-file.
    this.#closeStdin();
  }

  #onInput(input: ProcessInput): void {
    const kind = input.kind;
    switch (kind.case) {
      case 'stdin': {
        if (!this.#plan?.keepStdinOpen || this.#stdinClosed) {
          this.#fail(
            rpcError(
              'STDIN_CLOSED',
              this.#plan?.keepStdinOpen
                ? 'input.stdin after close_stdin: stdin is already closed'
                : 'input.stdin needs keep_stdin_open=true in start; stdin was closed after start.stdin',
              { field: 'input.stdin' },
            ),
          );
          return;
        }
        this.#writeStdin(kind.value);
        return;
      }
      case 'closeStdin':
        this.#closeStdin();
        return;
      case 'signal': {
        let signal;
        try {
          signal = checkSignal('input.signal', kind.value);
        } catch (error) {
          this.#fail(asRpcError(error));
          return;
        }
        this.#stage?.signal(signal);
        return;
      }
      default:
        this.#fail(rpcError('MESSAGE_UNEXPECTED', 'input has no kind: set stdin, close_stdin or signal', { field: 'input' }));
    }
  }

  #writeStdin(data: Uint8Array): void {
    if (this.#stdinLive && this.#stage) {
      if (!this.#stage.writeStdin(data)) {
        // Backpressure: stop reading the call until the program takes what it has.
        this.call.pause();
        this.#stage.onStdinDrain(() => this.call.resume());
      }
      return;
    }
    this.#queued.push(data);
    this.#queuedBytes += data.length;
    if (this.#queuedBytes > MAX_QUEUED_STDIN) this.call.pause();
  }

  #closeStdin(): void {
    if (this.#stdinClosed) return;
    this.#stdinClosed = true;
    if (this.#stdinLive) this.#stage?.closeStdin();
    else this.#closeQueued = true;
  }

  #start(start: Parameters<typeof planRunCode>[1] | Parameters<typeof planExec>[1]): void {
    let plan: RunPlan;
    try {
      plan =
        this.kind === 'runCode'
          ? planRunCode(this.ctx, start as Parameters<typeof planRunCode>[1])
          : planExec(this.ctx, start as Parameters<typeof planExec>[1]);
    } catch (error) {
      return this.#fail(asRpcError(error));
    }
    if (this.#cancelled !== undefined || this.call.cancelled) {
      this.#state = 'done'; // nobody is listening: do not start what would run unobserved
      return;
    }
    const release = this.ctx.admission.tryAcquire();
    if (!release) {
      this.#fail(
        rpcError(
          'TOO_MANY_RUNS',
          `the agent is already running its maximum of ${this.ctx.admission.max} concurrent runs (--max-concurrent ${this.ctx.admission.max}); retry later`,
          {
            flag: '--max-concurrent',
            limit: String(this.ctx.admission.max),
          },
        ),
      );
      return;
    }
    let tenant: Tenant;
    try {
      tenant = this.ctx.isolation.acquire();
    } catch (error) {
      release();
      return this.#fail(asRpcError(error));
    }
    this.#state = 'running';
    this.#plan = plan;
    if (!plan.keepStdinOpen) this.#stdinClosed = true;
    this.ctx.live.add(this);
    void this.#execute(plan, tenant)
      // #execute turns every stage failure into a result; anything left is a bug, and the
      // client must still get a status rather than a call that never ends.
      .catch((error: Error) => this.#fail(rpcError('INTERNAL', `runbox failed to finish the run: ${error.message}`)))
      .finally(() => {
        this.ctx.live.delete(this);
        release();
      });
  }

  #onOutput(stage: Stage): (stream: StreamName, pieces: Buffer[], bytes: number) => void {
    return (stream, pieces, bytes) =>
      this.#send(encodeOutputResponse(stage, stream === 'stdout' ? OutputStream.STDOUT : OutputStream.STDERR, pieces, bytes), bytes);
  }

  /** Sends Started (and logs run.start) the first time only. */
  #announceStarted(): void {
    const announce = this.#announce;
    this.#announce = undefined;
    announce?.();
  }

  /** Makes a stage the live one until it ends; its process was started by its constructor. */
  async #runStage(stage: RunningStage): Promise<StageResult> {
    this.#announceStarted();
    this.#stage = stage;
    if (this.#flow.held) stage.setOutputPaused(true);
    if (this.#cancelled !== undefined) stage.cancel(this.#cancelled);
    try {
      return await stage.result;
    } finally {
      this.#stage = undefined;
      this.#stdinLive = false;
    }
  }

  async #execute(plan: RunPlan, tenant: Tenant): Promise<void> {
    const runId = freshUuid();
    const who = tenant.identity(path.join(this.ctx.config.workDir, runId));
    const startedAt = Date.now();
    const language = plan.kind === 'runCode' ? plan.language : undefined;
    const cacheKey = language?.compile ? CompileCache.key(language.name, language.version, (plan as RunCodePlan).source) : undefined;
    let cached: string | undefined;
    let privateDir: string | undefined;
    let finished: Finished | undefined;
    try {
      if (cacheKey) cached = this.cache().lookup(cacheKey);
      // Announced once the first stage's process is started (#runStage), while it runs, or
      // before any result if none starts: serialising and sending it is then off the spawn's path.
      this.#announce = () => {
        log.info('run.start', { id: runId, rpc: this.kind, language: language?.name, cached: cacheKey ? cached !== undefined : undefined });
        this.#send(this.#responder.started(startedMessage(runId, language, limitsMessage(plan.limits), cached !== undefined)));
      };
      // Under per-run isolation the private directory is also HOME: always there.
      if (who.isolated || plan.cwd === undefined || plan.kind === 'runCode') {
        privateDir = createPrivateDir(this.ctx.config.workDir, runId, who.user);
      }
      finished = await this.#stages(plan, runId, who, privateDir!, cacheKey, cached);
    } catch (error) {
      log.error('run.internal_error', { id: runId, error: (error as Error).message });
      finished = create(FinishedSchema, { run: internalResult(Stage.RUN, `runbox failed to run this: ${(error as Error).message}`) });
    } finally {
      await tenant.release(async () => {
        if (privateDir) await removePrivateDir(privateDir);
      });
    }
    const last = finished.run ?? finished.compile;
    log.info('run.end', {
      id: runId,
      rpc: this.kind,
      language: language?.name,
      status: last ? STATUS_NAMES[last.status] : undefined,
      exit_code: last?.exitCode,
      wall_ms: Date.now() - startedAt,
      stdout_bytes: Number(last?.stdoutBytes ?? 0n),
      stderr_bytes: Number(last?.stderrBytes ?? 0n),
    });
    if (this.#state === 'running') {
      this.#state = 'done';
      this.#announceStarted();
      this.#send(this.#responder.finished(finished));
      if (!this.call.cancelled && !this.call.writableEnded) this.call.end();
    }
  }

  async #stages(
    plan: RunPlan,
    runId: string,
    who: Identity,
    privateDir: string,
    cacheKey: string | undefined,
    cached: string | undefined,
  ): Promise<Finished> {
    const { ctx } = this;
    const env = userEnv(who, ctx.languages.searchPath, ctx.userEnv);
    let compile: StageResult | undefined;
    let command: { argv: string[]; env: Record<string, string> };
    if (plan.kind === 'runCode') {
      const source = path.join(privateDir, plan.language.sourceFile);
      writePrivateFile(source, plan.source, who.user);
      let program = source;
      if (plan.language.compile && cacheKey) {
        if (cached === undefined) {
          const built = await this.#compile(plan, { runId, who, privateDir, source, env }, cacheKey);
          compile = built.result;
          if (built.program === undefined) return create(FinishedSchema, { compile });
          cached = built.program;
        }
        program = cached;
      }
      const run = plan.language.run(program, plan.args);
      command = { argv: run.argv, env: { ...env, ...run.env, ...plan.env } };
    } else {
      command = { argv: plan.argv, env: { ...env, ...plan.env } };
    }
    if (this.#cancelled !== undefined) {
      return create(FinishedSchema, {
        compile,
        run: create(StageResultSchema, { stage: Stage.RUN, status: Status.CANCELLED, exitCode: -1, message: this.#cancelled }),
      });
    }
    const stage = new RunningStage(ctx.limits, {
      stage: 'run',
      id: runId,
      argv: command.argv,
      cwd: plan.cwd ?? privateDir,
      cwdFromClient: plan.cwd !== undefined,
      env: command.env,
      user: who.user,
      isolated: who.isolated,
      stdin: true,
      timeoutMs: plan.limits.timeoutMs,
      outputLimitBytes: plan.limits.outputLimitBytes,
      limits: { memoryBytes: plan.limits.memoryBytes, maxProcesses: plan.limits.maxProcesses },
      onOutput: this.#onOutput(Stage.RUN),
    });
    this.#feedStdin(stage, plan.stdin);
    const run = await this.#runStage(stage);
    return create(FinishedSchema, { compile, run });
  }

  /** The compile stage; `program` is the cached (or, if caching failed, the fresh) output, undefined when it failed. */
  async #compile(plan: RunCodePlan, where: CompileWhere, cacheKey: string): Promise<{ result: StageResult; program: string | undefined }> {
    const { spec, output } = compileStageSpec(this.ctx, plan, where, this.#onOutput(Stage.COMPILE));
    const alone = aloneBefore(this.ctx);
    const result = await this.#runStage(new RunningStage(this.ctx.limits, spec));
    this.#send(this.#responder.stageResult(result));
    if (result.status !== Status.EXITED || result.exitCode !== 0) return { result, program: undefined };
    return { result, program: keepCompiled(this.ctx, this.cache(), cacheKey, output, alone, where) };
  }

  /** The run stage takes stdin directly from now on: first start.stdin, then what was queued. */
  #feedStdin(stage: RunningStage, initial: Uint8Array): void {
    this.#stdinLive = true;
    if (initial.length > 0) stage.writeStdin(initial);
    for (const chunk of this.#queued) stage.writeStdin(chunk);
    this.#queued = [];
    if (this.#queuedBytes > MAX_QUEUED_STDIN) stage.onStdinDrain(() => this.call.resume());
    this.#queuedBytes = 0;
    if (this.#stdinClosed || this.#closeQueued) stage.closeStdin();
  }
}
