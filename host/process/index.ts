// Host side of ProcessService: run source code (`runCode`) or an argv command (`exec`) in a
// sandbox, in the foreground (a Promise of the result) or in the background (a ProcessHandle
// to stream stdin, send signals and wait). A program that fails is a RunResult; errors are
// thrown only when the run could not be made (see ../errors.ts).
import { create } from '@bufbuild/protobuf';
import { bidiCall } from '../../proto/grpc.js';
import {
  ExecRequestSchema,
  ExecStartSchema,
  ProcessService,
  RunCodeRequestSchema,
  RunCodeStartSchema,
} from '../../proto/gen/runbox/v1/process_pb.js';
import type { Connection } from '../transport/connection.js';
import { openRun } from './call.js';
import type { ProcessHandle, RunCall } from './handle.js';
import { commonStart, toBytes } from './request.js';
import type { ExecOptions, RunCodeOptions, RunResult } from './types.js';

export type * from './types.js';
export { ProcessHandle } from './handle.js';

/** The process capability of a Sandbox: `sb.runCode(...)` and `sb.exec(...)`. */
export class ProcessApi {
  readonly #connection: Connection;

  /** Not public: a Sandbox has one. */
  constructor(internal: never);
  /** @internal Created by Sandbox. */
  constructor(connection: Connection);
  constructor(connection: Connection) {
    this.#connection = connection;
  }

  /**
   * Runs source code: writes it to a fresh private directory, compiles it if the language
   * needs it (go, rust, typescript; cached by source hash), runs it and resolves with the
   * result. A non-zero exit, a timeout or a compile error is a result, not a throw.
   *
   * ```ts
   * const r = await sb.runCode('python', 'print(input())', { stdin: 'hi\n', timeoutMs: 5_000 });
   * ```
   * @throws InvalidArgumentError (unknown language, oversized source...), ResourceExhaustedError
   *   (agent at --max-concurrent), AbortError (options.signal fired), SandboxUnavailableError.
   */
  runCode(language: string, source: string | Uint8Array, options: RunCodeOptions & { background: true }): Promise<ProcessHandle>;
  runCode(language: string, source: string | Uint8Array, options?: RunCodeOptions): Promise<RunResult>;
  async runCode(language: string, source: string | Uint8Array, options: RunCodeOptions = {}): Promise<RunResult | ProcessHandle> {
    const start = create(RunCodeStartSchema, { language, source: toBytes(source), args: options.args ?? [], ...commonStart(options) });
    const handle = await openRun(
      this.#connection,
      {
        what: 'runCode',
        open: () => bidiCall(this.#connection.client, ProcessService.method.runCode, this.#connection.context()) as unknown as RunCall,
        startRequest: create(RunCodeRequestSchema, { event: { case: 'start', value: start } }),
        input: (value) => create(RunCodeRequestSchema, { event: { case: 'input', value } }),
      },
      options,
    );
    return options.background ? handle : handle.wait();
  }

  /**
   * Runs an argv command (argv[0] is looked up in the sandbox's PATH; no shell is involved
   * unless argv names one) and resolves with the result.
   *
   * ```ts
   * const r = await sb.exec(['ls', '-l', '/'], { timeoutMs: 5_000 });
   * const h = await sb.exec(['cat'], { background: true, keepStdinOpen: true });
   * await h.sendStdin('hi\n'); h.closeStdin(); const r2 = await h.wait();
   * ```
   * @throws InvalidArgumentError (empty argv, NUL bytes...), ResourceExhaustedError,
   *   AbortError (options.signal fired), SandboxUnavailableError.
   */
  exec(argv: string[], options: ExecOptions & { background: true }): Promise<ProcessHandle>;
  exec(argv: string[], options?: ExecOptions): Promise<RunResult>;
  async exec(argv: string[], options: ExecOptions = {}): Promise<RunResult | ProcessHandle> {
    const start = create(ExecStartSchema, { argv, ...commonStart(options) });
    const handle = await openRun(
      this.#connection,
      {
        what: 'exec',
        open: () => bidiCall(this.#connection.client, ProcessService.method.exec, this.#connection.context()) as unknown as RunCall,
        startRequest: create(ExecRequestSchema, { event: { case: 'start', value: start } }),
        input: (value) => create(ExecRequestSchema, { event: { case: 'input', value } }),
      },
      options,
    );
    return options.background ? handle : handle.wait();
  }
}
