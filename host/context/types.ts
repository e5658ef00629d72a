// Public types of code contexts: options, the execution of a cell, its rich results and its
// error. A cell that raises is an Execution with `error` set, never an exception.
import type { CallOptions } from '../transport/connection.js';

/** The languages that have code contexts. */
export type ContextLanguage = 'python' | 'javascript';

/** Options of `sb.contexts.create()`. */
export interface ContextOptions extends CallOptions {
  /** Absolute working directory in the sandbox (default: the user's home directory). */
  cwd?: string;
  /** Environment added to the sandbox's base one. */
  env?: Record<string, string>;
  /** Memory limit of the context's process tree, bytes (cgroup backend only; default: the agent's). */
  memoryBytes?: number;
  /** Limit on tasks of the context's process tree (cgroup backend only). */
  maxProcesses?: number;
}

/** What a context is doing. */
export type ContextState = 'idle' | 'busy' | 'dead';

/** A context as the agent reports it (`sb.contexts.list()`, `ctx.info()`). */
export interface ContextInfo {
  id: string;
  language: ContextLanguage;
  /** The interpreter behind it, e.g. "IPython 8.5.0, Python 3.11.2". */
  version: string;
  cwd: string;
  state: ContextState;
  /** Cells run since it (re)started. */
  executionCount: number;
  createdAt: Date;
  lastUsedAt: Date;
  /** 0 when dead. */
  pid: number;
  /** Effective limits; 0 = not enforced by this agent. */
  memoryBytes: number;
  maxProcesses: number;
  /** Why it died, when `state` is 'dead'. */
  death: string | undefined;
  /** The agent closes a context idle this long. */
  idleTimeoutMs: number;
}

/**
 * A rich result: a display() call, a figure, or the cell's last expression (`isMain`). Every
 * representation the interpreter gave is in `data`; the common ones have their own field.
 */
export interface ContextResult {
  /** The value of the cell's last expression. */
  isMain: boolean;
  /** text/plain: always present (the repr). */
  text: string;
  html?: string;
  markdown?: string;
  svg?: string;
  latex?: string;
  javascript?: string;
  png?: Uint8Array;
  jpeg?: Uint8Array;
  /** application/json, parsed. */
  json?: unknown;
  /** Every MIME type as received: text types as strings, binary types (images, PDF) as bytes. */
  data: Record<string, string | Uint8Array>;
  /** It did not fit the cell's resultLimitBytes: only a cut `text` is kept. */
  truncated: boolean;
}

/** The exception a cell raised, as data. */
export interface ExecutionError {
  /** e.g. 'ZeroDivisionError', 'KeyboardInterrupt', 'TypeError'. */
  name: string;
  value: string;
  /** The formatted traceback, plain text. */
  traceback: string;
}

/** How a cell ended. */
export type ExecutionStatus =
  /** It ran to its end. */
  | 'ok'
  /** It raised; see `error`. */
  | 'error'
  /** timeoutMs passed and it was interrupted; the context lives on. */
  | 'timed_out'
  /** ctx.interrupt() (or an aborted signal) interrupted it; the context lives on. */
  | 'interrupted'
  /** The context's process ended during it (memory limit, exit, crash); restart the context. */
  | 'context_died';

/** The execution of one cell. */
export interface Execution {
  status: ExecutionStatus;
  /** The cell's number in its context (In [n]); 0 when the context died during it. */
  executionCount: number;
  /** Rich results in display order. */
  results: ContextResult[];
  /** text/plain of the main result (the last expression's value), if there is one. */
  text: string | undefined;
  error: ExecutionError | undefined;
  stdout: string;
  stderr: string;
  stdoutTruncated: boolean;
  stderrTruncated: boolean;
  /** Bytes written to each stream, including what was cut. */
  stdoutTotalBytes: number;
  stderrTotalBytes: number;
  resultsTruncated: boolean;
  durationMs: number;
  /** Which limit fired, why the context died, what was cut; '' when nothing to say. */
  message: string;
  /** How the context's process ended, when status is 'context_died'. */
  death: { exitCode: number; signal: string | undefined; memoryLimit: boolean } | undefined;
  /** The limits the agent applied to this cell. */
  limits: { timeoutMs: number; outputLimitBytes: number; resultLimitBytes: number };
}

/** Receives output as it arrives; `text` is decoded incrementally per stream. */
export type ContextOutputListener = (text: string, bytes: Uint8Array) => void;

/** Options of `ctx.run()` (and `sb.runCode(lang, code, { context })`). */
export interface RunCellOptions {
  /** Wall-clock limit of the cell, ms; then it is interrupted (status 'timed_out'). Default: the agent's run timeout. */
  timeoutMs?: number;
  /** Bytes of stdout and of stderr kept; the rest is counted. Default: the agent's. */
  outputLimitBytes?: number;
  /** Bytes of results kept (all MIME data together); a result over it keeps a cut text. Default 16 MiB. */
  resultLimitBytes?: number;
  onStdout?: ContextOutputListener;
  onStderr?: ContextOutputListener;
  /** Each result as it is displayed. */
  onResult?: (result: ContextResult) => void;
  /** The cell's exception, as it is raised. */
  onError?: (error: ExecutionError) => void;
  /** Interrupts the cell (KeyboardInterrupt in Python); the promise rejects with AbortError, the context lives on. */
  signal?: AbortSignal;
}
