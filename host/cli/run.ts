// runbox run: run a source file in a language, streaming its output, exiting with its status.
import { readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { TARGET_OPTIONS, TARGET_USAGE, UsageError, connect, parse, runVerb } from './common.js';
import type { CliIo } from './io.js';
import { COMPILE_OPTIONS, PROCESS_OPTIONS, PROCESS_USAGE, finish, processOptions, stdinFor, streamOutput } from './process.js';

const USAGE = `Usage: runbox run --target T [options] LANG FILE|- [-- ARGS...]

Runs FILE (or the source on stdin with -) as LANG in the sandbox: compiles it first for
go, rust and typescript (cached by source), then runs it with ARGS. The program's stdout
and stderr are streamed to ours byte for byte.

${TARGET_USAGE}
      --compile-timeout-ms N  wall-clock limit of the compile stage
${PROCESS_USAGE}
`;

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks);
}

async function readSource(file: string, io: CliIo): Promise<Buffer> {
  try {
    return file === '-' ? await readAll(io.stdin) : readFileSync(file);
  } catch (error) {
    throw new UsageError(`cannot read ${file === '-' ? 'the source from stdin' : file}: ${(error as Error).message}`);
  }
}

export function main(argv: string[], io: CliIo): Promise<number> {
  return runVerb(USAGE, io, async () => {
    const { values, positionals } = parse(argv, { ...TARGET_OPTIONS, ...PROCESS_OPTIONS, ...COMPILE_OPTIONS });
    if (values.help) return (io.stdout.write(USAGE), 0);
    const [language, file, ...args] = positionals;
    if (!language || !file) throw new UsageError('LANG and FILE are required (FILE may be - for stdin)');
    const source = await readSource(file, io);
    const stdin = stdinFor(values, file === '-', io);
    const sandbox = await connect(values, io);
    try {
      const handle = await sandbox.runCode(language, source, {
        ...processOptions(values),
        args,
        ...(stdin !== undefined ? { stdin } : {}),
        ...streamOutput(io),
        background: true,
      });
      return await finish(handle, io);
    } finally {
      await sandbox.close();
    }
  });
}
