// runbox repl: an interactive REPL on a code context in the sandbox (docs/contexts.md). State
// persists between cells; Ctrl-C interrupts the running cell, not the REPL; rich results show
// as their text form and images are saved to files whose paths are printed.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { CodeContext } from '../../context/handle.js';
import type { Sandbox } from '../../sandbox.js';
import { TARGET_OPTIONS, TARGET_USAGE, UsageError, connect, intFlag, parse, parseEnv, runVerb } from '../common.js';
import type { CliIo } from '../io.js';
import { printable } from '../printable.js';
import type { ReplLanguage } from './complete.js';
import { replLoop } from './loop.js';

const USAGE = `Usage: runbox repl LANGUAGE --target T [options]

An interactive REPL on a code context in the sandbox (LANGUAGE: python or javascript).
Variables, imports and functions persist from one cell to the next. Ctrl-C interrupts the
running cell; Ctrl-D leaves (and closes the context unless --keep or --context). Results
show as text; images are saved under --save-dir and their paths printed.

${TARGET_USAGE}
      --cwd DIR          working directory of a new context (default: the user's home)
  -e, --env K=V          environment variable of a new context; repeatable
      --context ID       use an existing context (sb.contexts.list()); it stays open
      --keep             leave the new context open on exit and print its id
      --save-dir DIR     where images go (default: $TMPDIR/runbox-repl-<context>)
      --timeout-ms N     wall-clock limit per cell (default 3600000; Ctrl-C interrupts sooner)
      --history-file F   line history (default ~/.local/state/runbox/repl-LANGUAGE.history;
                         '' keeps none)
`;

const LANGUAGES: Record<string, ReplLanguage> = {
  python: 'python',
  py: 'python',
  javascript: 'javascript',
  js: 'javascript',
  node: 'javascript',
};

function readHistory(file: string): string[] {
  try {
    return readFileSync(file, 'utf8').split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

function writeHistory(file: string, lines: string[]): void {
  try {
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    writeFileSync(file, lines.map((l) => `${l}\n`).join(''), { mode: 0o600 });
  } catch {
    /* history is a convenience: an unwritable file costs nothing else */
  }
}

async function openContext(
  sandbox: Sandbox,
  language: ReplLanguage,
  values: { context?: string; cwd?: string; env?: string[] },
): Promise<CodeContext> {
  if (values.context !== undefined) {
    const context = await sandbox.contexts.get(values.context);
    if (context.language !== language)
      throw new UsageError(`--context ${values.context} is a ${context.language} context, not ${language}`);
    return context;
  }
  return sandbox.contexts.create(language, { env: parseEnv(values.env), ...(values.cwd !== undefined ? { cwd: values.cwd } : {}) });
}

export function main(argv: string[], io: CliIo): Promise<number> {
  return runVerb(USAGE, io, async () => {
    const { values, positionals } = parse(argv, {
      ...TARGET_OPTIONS,
      cwd: { type: 'string' },
      env: { type: 'string', short: 'e', multiple: true },
      context: { type: 'string' },
      keep: { type: 'boolean' },
      'save-dir': { type: 'string' },
      'timeout-ms': { type: 'string' },
      'history-file': { type: 'string' },
    });
    if (values.help) return (io.stdout.write(USAGE), 0);
    if (positionals.length !== 1) throw new UsageError('expected exactly one LANGUAGE (python or javascript)');
    const language = LANGUAGES[positionals[0]!.toLowerCase()];
    if (!language) throw new UsageError(`${positionals[0]}: REPLs exist for python and javascript`);
    if (values.context !== undefined && (values.cwd !== undefined || values.env !== undefined || values.keep)) {
      throw new UsageError('--context uses an existing context: --cwd, --env and --keep only apply to new ones');
    }
    const timeoutMs = intFlag('timeout-ms', values['timeout-ms']) ?? 3_600_000;
    const home = io.env.HOME ?? os.homedir();
    const historyFile =
      values['history-file'] ?? path.join(io.env.XDG_STATE_HOME ?? path.join(home, '.local/state'), 'runbox', `repl-${language}.history`);
    const sandbox = await connect(values, io);
    try {
      const context = await openContext(sandbox, language, values);
      const saveDir = values['save-dir'] ?? path.join(io.env.TMPDIR ?? os.tmpdir(), `runbox-repl-${context.id.slice(0, 8)}`);
      if (io.stdin.isTTY)
        io.stdout.write(`${printable(context.version)} (context ${context.id}); Ctrl-C interrupts a cell, Ctrl-D leaves\n`);
      const history = await replLoop(context, io, { language, timeoutMs, saveDir, history: historyFile ? readHistory(historyFile) : [] });
      if (historyFile) writeHistory(historyFile, history);
      if (values.context !== undefined || values.keep)
        io.stderr.write(`runbox: context ${context.id} stays open (runbox repl ${language} --context ${context.id})\n`);
      else await context.close();
      return 0;
    } finally {
      await sandbox.close();
    }
  });
}
