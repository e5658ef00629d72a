// The read-eval-print loop: readline gives line editing and history on a terminal; lines are
// gathered until a cell is complete (complete.ts), the cell runs in the context with its output
// streamed, and Ctrl-C interrupts the running cell (KeyboardInterrupt), not the REPL. At the
// prompt Ctrl-C drops the lines typed so far and Ctrl-D leaves. While a cell runs, readline is
// paused and the terminal is back in its normal mode, as for any program: output is not redrawn
// over, Ctrl-C arrives as SIGINT, and what is typed meanwhile waits in the terminal for the next
// prompt. A context that dies is restarted, with a word that its state is gone.
import readline from 'node:readline';
import type { CodeContext } from '../../context/handle.js';
import { RunboxError } from '../../errors.js';
import type { CliIo } from '../io.js';
import { printable } from '../printable.js';
import { isComplete, type ReplLanguage } from './complete.js';
import { ResultPrinter } from './show.js';

export interface LoopOptions {
  language: ReplLanguage;
  timeoutMs: number;
  saveDir: string;
  /** Lines of earlier sessions, oldest first. */
  history: string[];
}

/** Runs the loop until end of input; resolves with the history to keep, oldest first. */
export function replLoop(context: CodeContext, io: CliIo, options: LoopOptions): Promise<string[]> {
  const terminal = Boolean(io.stdin.isTTY && io.stdout.isTTY);
  const printer = new ResultPrinter(io, options.saveDir);
  const rl = readline.createInterface({
    input: io.stdin,
    output: terminal ? io.stdout : undefined,
    terminal,
    history: [...options.history].reverse(),
    historySize: 1000,
    removeHistoryDuplicates: true,
  });
  let next = 1;
  let cells = 0;
  let lines: string[] = [];
  let running: Promise<void> | undefined;
  let closed = false;
  const queued: string[] = [];
  const history = [...options.history];
  /** Readline reads again (raw mode on a terminal) or stops while a cell runs. */
  const reading = (on: boolean) => {
    if (closed) return;
    if (on) {
      if (terminal) io.stdin.setRawMode?.(true);
      rl.resume();
    } else {
      rl.pause();
      if (terminal) io.stdin.setRawMode?.(false);
    }
  };
  const prompt = () => {
    if (closed) return;
    reading(true);
    rl.setPrompt(lines.length === 0 ? `In [${next}]: ` : `${' '.repeat(String(next).length + 3)}...: `);
    rl.prompt();
  };

  const run = async (code: string) => {
    const cell = ++cells;
    try {
      const execution = await context.run(code, {
        timeoutMs: options.timeoutMs,
        onStdout: (text) => io.stdout.write(text),
        onStderr: (text) => io.stderr.write(text),
        onResult: (result) => printer.result(result, cell),
        onError: (error) => printer.error(error),
      });
      printer.finished(execution);
      if (execution.executionCount > 0) next = execution.executionCount + 1;
      if (execution.status === 'context_died') {
        await context.restart();
        next = 1;
        io.stderr.write('runbox: the context was restarted; its variables and imports are gone\n');
      }
    } catch (error) {
      io.stderr.write(`runbox: ${printable(error instanceof RunboxError ? error.message : String(error))}\n`);
    }
  };

  const take = (line: string) => {
    lines.push(line);
    if (line.trim() !== '' && history[history.length - 1] !== line) history.push(line);
    if (!isComplete(lines, options.language)) return prompt();
    const code = lines.join('\n');
    lines = [];
    if (code.trim() === '') return prompt();
    reading(false);
    running = run(code).finally(() => {
      running = undefined;
      const waiting = queued.splice(0);
      if (waiting.length === 0) prompt();
      for (const line of waiting) {
        if (running) queued.push(line);
        else take(line);
      }
    });
  };

  const interrupt = () => {
    if (running) {
      void context.interrupt().catch(() => undefined);
      return;
    }
    // Drop what was typed: readline's own line too, or it would prefix the next one.
    const edited = rl as unknown as { line: string; cursor: number };
    edited.line = '';
    edited.cursor = 0;
    if (terminal) io.stdout.write('^C\n');
    lines = [];
    prompt();
  };
  rl.on('line', (line) => (running ? queued.push(line) : take(line)));
  rl.on('SIGINT', interrupt);
  // Not a terminal (piped input): Ctrl-C reaches us as a signal.
  io.events.on('SIGINT', interrupt);
  prompt();
  return new Promise((resolve) => {
    rl.on('close', () => {
      closed = true;
      if (terminal) io.stdout.write('\n');
      io.events.off('SIGINT', interrupt);
      const finish = async () => {
        // Piped input may end while the last cells still run or wait.
        while (running || queued.length > 0) {
          if (running) await running;
          else take(queued.shift()!);
        }
        if (lines.length > 0) {
          const code = lines.join('\n');
          lines = [];
          if (code.trim() !== '') await run(code);
        }
        resolve(history.slice(-1000));
      };
      void finish();
    });
  });
}
