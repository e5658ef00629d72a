// runbox languages: what the agent can run.
import { TARGET_OPTIONS, TARGET_USAGE, connect, parse, printJson, runVerb } from './common.js';
import { printable } from './printable.js';
import type { CliIo } from './io.js';

const USAGE = `Usage: runbox languages --target T [--json]

Lists the languages the agent found toolchains for.

${TARGET_USAGE}
      --json           print JSON
`;

export function main(argv: string[], io: CliIo): Promise<number> {
  return runVerb(USAGE, io, async () => {
    const { values } = parse(argv, { ...TARGET_OPTIONS, json: { type: 'boolean' } }, false);
    if (values.help) return (io.stdout.write(USAGE), 0);
    const sandbox = await connect(values, io);
    try {
      const languages = await sandbox.languages();
      if (values.json) printJson(io, languages);
      else
        for (const l of languages) {
          const aliases = l.aliases.length ? ` (${l.aliases.join(', ')})` : '';
          io.stdout.write(
            printable(`${l.name.padEnd(12)} ${l.version.padEnd(12)} ${l.compiled ? 'compiled' : '        '}${aliases}`) + '\n',
          );
        }
      return 0;
    } finally {
      await sandbox.close();
    }
  });
}
