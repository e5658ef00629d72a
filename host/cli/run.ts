// runbox run: run a source file in a language, streaming its output, exiting with its status.
import { readFileSync } from 'node:fs';
import { TARGET_OPTIONS, TARGET_USAGE, UsageError, connect, parse, runVerb } from './common.js';
import { COMPILE_OPTIONS, PROCESS_OPTIONS, PROCESS_USAGE, finish, processOptions, stdinFor, streamOutput } from './process.js';

const USAGE = `Usage: runbox run --target T [options] LANG FILE|- [-- ARGS...]

Runs FILE (or the source on stdin with -) as LANG in the sandbox: compiles it first for
go, rust and typescript (cached by source), then runs it with ARGS. The program's stdout
and stderr are streamed to ours byte for byte.

${TARGET_USAGE}
      --compile-timeout-ms N  wall-clock limit of the compile stage
${PROCESS_USAGE}
`;

export function main(argv: string[]): Promise<number> {
  return runVerb(USAGE, async () => {
    const { values, positionals } = parse(argv, { ...TARGET_OPTIONS, ...PROCESS_OPTIONS, ...COMPILE_OPTIONS });
    if (values.help) return (process.stdout.write(USAGE), 0);
    const [language, file, ...args] = positionals;
    if (!language || !file) throw new UsageError('LANG and FILE are required (FILE may be - for stdin)');
    let source: Buffer;
    try {
      source = file === '-' ? readFileSync(0) : readFileSync(file);
    } catch (error) {
      throw new UsageError(`cannot read ${file === '-' ? 'the source from stdin' : file}: ${(error as Error).message}`);
    }
    const stdin = stdinFor(values, file === '-');
    const sandbox = await connect(values);
    try {
      const handle = await sandbox.runCode(language, source, {
        ...processOptions(values),
        args,
        ...(stdin !== undefined ? { stdin } : {}),
        ...streamOutput(),
        background: true,
      });
      return await finish(handle);
    } finally {
      await sandbox.close();
    }
  });
}
