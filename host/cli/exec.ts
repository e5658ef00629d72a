// runbox exec: run an argv command, streaming its output, exiting with its status.
import { TARGET_OPTIONS, TARGET_USAGE, UsageError, connect, parse, runVerb } from './common.js';
import type { CliIo } from './io.js';
import { PROCESS_OPTIONS, PROCESS_USAGE, finish, processOptions, stdinFor, streamOutput } from './process.js';

const USAGE = `Usage: runbox exec --target T [options] -- CMD [ARGS...]

Runs CMD with ARGS in the sandbox (CMD is looked up in the sandbox's PATH; no shell is
involved unless CMD is one). Put -- before CMD so its flags are not taken for ours. The
command's stdout and stderr are streamed to ours byte for byte.

${TARGET_USAGE}
${PROCESS_USAGE}
`;

export function main(argv: string[], io: CliIo): Promise<number> {
  return runVerb(USAGE, io, async () => {
    const { values, positionals } = parse(argv, { ...TARGET_OPTIONS, ...PROCESS_OPTIONS });
    if (values.help) return (io.stdout.write(USAGE), 0);
    if (positionals.length === 0) throw new UsageError('CMD is required: runbox exec --target T -- CMD [ARGS...]');
    const stdin = stdinFor(values, false, io);
    const sandbox = await connect(values, io);
    try {
      const handle = await sandbox.exec(positionals, {
        ...processOptions(values),
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
