// runbox languages: what the agent can run.
import { TARGET_OPTIONS, TARGET_USAGE, connect, parse, printJson, runVerb } from './common.js';

const USAGE = `Usage: runbox languages --target T [--json]

Lists the languages the agent found toolchains for.

${TARGET_USAGE}
      --json           print JSON
`;

export function main(argv: string[]): Promise<number> {
  return runVerb(USAGE, async () => {
    const { values } = parse(argv, { ...TARGET_OPTIONS, json: { type: 'boolean' } }, false);
    if (values.help) return (process.stdout.write(USAGE), 0);
    const sandbox = await connect(values);
    try {
      const languages = await sandbox.languages();
      if (values.json) printJson(languages);
      else
        for (const l of languages) {
          const aliases = l.aliases.length ? ` (${l.aliases.join(', ')})` : '';
          process.stdout.write(`${l.name.padEnd(12)} ${l.version.padEnd(12)} ${l.compiled ? 'compiled' : '        '}${aliases}\n`);
        }
      return 0;
    } finally {
      await sandbox.close();
    }
  });
}
