// The top-level dispatcher: `runbox <command> ...`. One module per command under host/cli/,
// loaded only when that command runs (startup time matters: `runbox exec` must not load the
// image builder).
import { VERSION } from '../version.js';
import type { CliIo } from './io.js';

export type VerbMain = (argv: string[], io: CliIo) => Promise<number>;
type Verb = { summary: string; load: () => Promise<{ main: VerbMain }> };

export const VERBS: Record<string, Verb> = {
  run: { summary: 'run a source file in a language', load: () => import('./run.js') },
  exec: { summary: 'run a command (argv)', load: () => import('./exec.js') },
  shell: { summary: 'open an interactive shell', load: () => import('./shell.js') },
  repl: { summary: 'an interactive REPL on a code context (python, javascript)', load: () => import('./repl/index.js') },
  cp: { summary: 'copy files in and out (sandbox:/path)', load: () => import('./cp.js') },
  languages: { summary: 'list the languages a sandbox offers', load: () => import('./languages.js') },
  info: { summary: "show a sandbox's health and system information", load: () => import('./info.js') },
  web: { summary: 'serve a browser terminal for a sandbox', load: () => import('./web.js') },
  image: { summary: 'build, list, verify, push, pull and publish VM images', load: () => import('./image/index.js') },
  vm: { summary: 'boot and stop local VMs', load: () => import('./vm/index.js') },
  machine: { summary: 'export portable machine packages', load: () => import('./machine/index.js') },
  quickstart: { summary: 'build the python image, boot it, run code in it', load: () => import('./quickstart.js') },
};

export const USAGE = `Usage: runbox <command> [options]

Commands:
${Object.entries(VERBS)
  .map(([name, verb]) => `  ${name.padEnd(11)} ${verb.summary}`)
  .join('\n')}

Run 'runbox <command> --help' for a command's options.
`;

/** Runs `runbox ...argv`; resolves with the exit code. No argument at all is a usage error (2). */
export async function main(argv: string[], io: CliIo): Promise<number> {
  const [verb, ...rest] = argv;
  if (verb === undefined || verb === '--help' || verb === '-h' || verb === 'help') {
    io.stdout.write(USAGE);
    return verb === undefined ? 2 : 0;
  }
  if (verb === '--version') {
    io.stdout.write(`runbox ${VERSION}\n`);
    return 0;
  }
  const entry = Object.hasOwn(VERBS, verb) ? VERBS[verb] : undefined;
  if (!entry) {
    io.stderr.write(`runbox: unknown command '${verb}'\n\n${USAGE}`);
    return 2;
  }
  return (await entry.load()).main(rest, io);
}
