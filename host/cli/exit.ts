// Exit codes of the CLI and how a verb's error becomes one. Kept apart from common.ts (which
// loads the SDK) so the mapping is cheap to load and to test.
import { RunboxError } from '../errors.js';
import type { CliIo } from './io.js';
import { printable } from './printable.js';

/** Exit codes scripts can rely on. A program's own exit code passes through unchanged. */
export const EXIT = {
  ok: 0,
  /** A bad flag or argument: usage was printed. */
  usage: 2,
  /** The run hit its wall-clock limit (like coreutils `timeout`). */
  timeout: 124,
  /** runbox itself failed: unreachable agent, bad token, rejected request, failed image build. */
  runbox: 125,
  /** Our stdout or stderr was closed under the run, which was cancelled (128 + SIGPIPE, as a shell shows it). */
  brokenPipe: 141,
} as const;

/** A bad flag or argument: the verb's usage is printed after the message. */
export class UsageError extends Error {}

/** What a verb's error makes the CLI print (on stderr) and exit with. */
export interface Failure {
  exitCode: number;
  /** The text for stderr, ending in a newline. */
  text: string;
}

/**
 * The built-in classes that only our own code going wrong throws: a call on undefined, a name
 * that does not exist, a value out of range for an API (Node's ERR_OUT_OF_RANGE, a runaway
 * recursion), a bad eval or URI. SyntaxError is not among them: at run time it comes from
 * JSON.parse of a file (a manifest, a state file), which is bad input, not a bug.
 */
const BUG_CLASSES: readonly (new (...args: never[]) => Error)[] = [TypeError, ReferenceError, RangeError, EvalError, URIError];

/**
 * The rule, in order:
 * - UsageError: 2, the message, a blank line, then the verb's usage.
 * - RunboxError (every SDK, VM and image error that extends it): 125, `runbox: <message>`.
 * - TypeError, ReferenceError, RangeError, EvalError, URIError (BUG_CLASSES), or a thrown value
 *   that is not an Error at all: a bug in runbox. 125, `runbox: internal error: <stack>`.
 * - Any other Error: a failure of the work that did not get a RunboxError class (yet): the image
 *   builder's SpecError, BuildError and CommandError while they extend Error, a bare
 *   `new Error(...)` of the builder or launcher, a Node system error (ENOENT, EACCES) or a
 *   SyntaxError from a corrupt JSON file. 125, `runbox: <message>`, no stack: its message says
 *   what went wrong (a BuildError's message ends with the build log's path on its own line).
 */
export function failure(error: unknown, usage: string): Failure {
  const { exitCode, text } = rawFailure(error, usage);
  // Messages may quote what the agent or a file said: shown escaped, never interpreted.
  return { exitCode, text: printable(text) };
}

function rawFailure(error: unknown, usage: string): Failure {
  if (error instanceof UsageError) return { exitCode: EXIT.usage, text: `runbox: ${error.message}\n\n${usage}` };
  if (error instanceof RunboxError) return { exitCode: EXIT.runbox, text: `runbox: ${error.message}\n` };
  if (!(error instanceof Error) || BUG_CLASSES.some((bug) => error instanceof bug)) {
    const detail = error instanceof Error ? (error.stack ?? String(error)) : String(error);
    return { exitCode: EXIT.runbox, text: `runbox: internal error: ${detail}\n` };
  }
  return { exitCode: EXIT.runbox, text: `runbox: ${error.message}\n` };
}

/** Runs a verb; an error it throws is printed on stderr and becomes the exit code, by failure(). */
export async function runVerb(usage: string, io: CliIo, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (error) {
    const { exitCode, text } = failure(error, usage);
    io.stderr.write(text);
    return exitCode;
  }
}
