// runbox context driver for JavaScript: one long-lived Node process per code context, started
// by the agent as the sandbox user (`node -`, this bundle on stdin; esbuild entry
// dist/agent/context-javascript.js). Cells run in this process's own global context, as in
// Node's REPL, so require, process, timers and every global behave as in a program; the
// driver keeps its own references to what it uses, so user code that replaces a global does
// not break the protocol. Same protocol as driver/python.py: JSON-line commands on fd 3,
// JSON-line events on fd 4, an end marker on stdout and stderr after each cell.
import { createRequire } from 'node:module';
import { Socket } from 'node:net';
import { writeSync } from 'node:fs';
import path from 'node:path';
import { Script } from 'node:vm';
import { inspect } from 'node:util';
import { toReplScript } from './repl-transform.js';
import { bundleOf, rawBundle, type WireBundle } from './mime.js';

const COMMANDS_FD = 3;
const EVENTS_FD = 4;
const stringify = JSON.stringify;
const parseJson = JSON.parse;

interface Command {
  op: string;
  seq?: number;
  code?: string;
  marker?: string;
}

function send(event: Record<string, unknown>): void {
  const line = Buffer.from(`${stringify(event)}\n`);
  for (let offset = 0; offset < line.length;) offset += writeSync(EVENTS_FD, line, offset);
}

const state = { seq: 0, count: 0, executing: false, interrupt: undefined as ((error: Error) => void) | undefined };

/** What an interrupted cell raises, whether it was busy (breakOnSigint) or awaiting. */
const interrupted = () => {
  const error = new Error('the cell was interrupted (SIGINT)');
  error.name = 'Interrupted';
  error.stack = `${error.name}: ${error.message}`;
  return error;
};

function display(data: unknown, options: { raw?: boolean } = {}): void {
  const bundle: WireBundle = options.raw ? rawBundle(data) : bundleOf(data);
  send({ ev: 'display', seq: state.seq, main: false, data: bundle });
}

function errorEvent(error: unknown): Record<string, unknown> {
  if (error instanceof Error || (typeof error === 'object' && error !== null && 'stack' in error)) {
    const e = error as Error;
    // Frames of the driver itself say nothing to the user.
    const stack = String(e.stack ?? `${e.name}: ${e.message}`)
      .split('\n')
      .filter((line) => !/\[stdin\]|node:vm|node:internal\/process\/task_queues/.test(line))
      .join('\n');
    return { ev: 'error', seq: state.seq, name: e.name || 'Error', value: e.message ?? '', traceback: stack };
  }
  return { ev: 'error', seq: state.seq, name: 'Uncaught', value: inspect(error), traceback: `Uncaught ${inspect(error)}` };
}

/** Runs one cell; resolves with its value (undefined: nothing to show). */
async function evaluate(code: string): Promise<unknown> {
  const filename = `cell-${state.count + 1}.js`;
  const repl = toReplScript(code);
  if (repl?.prelude) new Script(repl.prelude, { filename }).runInThisContext();
  // breakOnSigint: an interrupt ends the synchronous part of the cell with an Error.
  const value: unknown = new Script(repl?.body ?? code, { filename }).runInThisContext({ breakOnSigint: true, displayErrors: false });
  if (!repl?.async) return value;
  // An interrupt while the cell awaits rejects it from the SIGINT handler below.
  return Promise.race([
    value,
    new Promise((_, reject) => {
      state.interrupt = reject;
    }),
  ]);
}

function endCell(marker: string): void {
  for (const fd of [1, 2]) {
    try {
      writeSync(fd, marker);
    } catch {
      /* the user closed it: the agent stops waiting for this marker after a grace period */
    }
  }
}

async function execute(command: Command): Promise<void> {
  state.seq = command.seq ?? 0;
  state.executing = true;
  let status = 'ok';
  try {
    const value = await evaluate(command.code ?? '');
    if (value !== undefined) send({ ev: 'display', seq: state.seq, main: true, data: bundleOf(value) });
  } catch (error) {
    status = 'error';
    const busyInterrupted = (error as { code?: unknown } | null)?.code === 'ERR_SCRIPT_EXECUTION_INTERRUPTED';
    send(errorEvent(busyInterrupted ? interrupted() : error));
  } finally {
    state.executing = false;
    state.interrupt = undefined;
  }
  state.count++;
  endCell(command.marker ?? '');
  send({ ev: 'done', seq: state.seq, status, count: state.count });
}

function installGlobals(): void {
  const cwd = process.cwd();
  const g = globalThis as Record<string, unknown>;
  // require resolves from the context's working directory (its node_modules), as in the REPL.
  g.require = createRequire(path.join(cwd, '[context]'));
  g.display = display;
  process.on('SIGINT', () => {
    // Only a cell is interrupted; a SIGINT between cells is dropped, never fatal.
    if (state.executing) state.interrupt?.(interrupted());
  });
  // A callback that throws must not end the context. It is not the running cell's error (it may
  // come from any earlier cell's timer): it goes to stderr, as Node prints it.
  const report = (error: unknown) => process.stderr.write(`Uncaught ${inspect(error)}\n`);
  process.on('uncaughtException', report);
  process.on('unhandledRejection', report);
}

function serve(): void {
  const commands = new Socket({ fd: COMMANDS_FD, readable: true, writable: false });
  let pending = '';
  let queue = Promise.resolve();
  commands.setEncoding('utf8');
  commands.on('data', (text: string) => {
    pending += text;
    for (let end = pending.indexOf('\n'); end >= 0; end = pending.indexOf('\n')) {
      const line = pending.slice(0, end);
      pending = pending.slice(end + 1);
      const command = parseJson(line) as Command;
      if (command.op === 'execute') queue = queue.then(() => execute(command));
      else if (command.op === 'reseed') send({ ev: 'reseeded' }); // V8's Math.random cannot be reseeded
    }
  });
  // fd 3 closed: the agent is done with this context.
  commands.on('end', () => process.exit(0));
}

installGlobals();
send({ ev: 'ready', version: `Node.js ${process.version}` });
serve();
