#!/usr/bin/env node
// runbox CLI: one module per verb under host/cli/, loaded on demand.
import { VERSION } from './version.js';

type Verb = { summary: string; load: () => Promise<{ main(argv: string[]): Promise<number> }> };

const VERBS: Record<string, Verb> = {
  run: { summary: 'run a source file in a language', load: () => import('./cli/run.js') },
  exec: { summary: 'run a command (argv)', load: () => import('./cli/exec.js') },
  shell: { summary: 'open an interactive shell', load: () => import('./cli/shell.js') },
  cp: { summary: 'copy files in and out (sandbox:/path)', load: () => import('./cli/cp.js') },
  languages: { summary: 'list the languages a sandbox offers', load: () => import('./cli/languages.js') },
  info: { summary: "show a sandbox's health and system information", load: () => import('./cli/info.js') },
  web: { summary: 'serve a browser terminal for a sandbox', load: () => import('./cli/web.js') },
  image: { summary: 'build, list and verify VM images', load: () => import('./cli/image.js') },
  vm: { summary: 'boot and stop local VMs', load: () => import('./cli/vm.js') },
  quickstart: { summary: 'build the python image, boot it, run code in it', load: () => import('./cli/quickstart.js') },
};

const USAGE = `Usage: runbox <command> [options]

Commands:
${Object.entries(VERBS)
  .map(([name, verb]) => `  ${name.padEnd(11)} ${verb.summary}`)
  .join('\n')}

Run 'runbox <command> --help' for a command's options.
`;

async function main(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  if (verb === undefined || verb === '--help' || verb === '-h' || verb === 'help') {
    process.stdout.write(USAGE);
    return verb === undefined ? 2 : 0;
  }
  if (verb === '--version') {
    process.stdout.write(`runbox ${VERSION}\n`);
    return 0;
  }
  const entry = VERBS[verb];
  if (!entry) {
    process.stderr.write(`runbox: unknown command '${verb}'\n\n${USAGE}`);
    return 2;
  }
  return (await entry.load()).main(rest);
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
