// runbox machine: portable machine packages (docs/sharing.md). `vm run ./machine.json` boots one.
import { runGroup, type CommandGroup } from '../command.js';
import type { CliIo } from '../io.js';

export const USAGE = `Usage:
  runbox machine export <image>[/<init>] [--repo R]... [--memory MiB] [--cpus N] > machine.json

A machine package names each asset of an image by content id, with the machine's shape and
the repos (registries, listings) to fetch them from; \`runbox vm run ./machine.json\` boots it.

Options:
  -h, --help          show this help
`;

export const GROUP: CommandGroup = {
  name: 'machine',
  usage: USAGE,
  subcommands: { export: async () => (await import('./export.js')).command },
  aliases: {},
  missingUsageTo: 'stderr',
};

export function main(argv: string[], io: CliIo): Promise<number> {
  return runGroup(GROUP, argv, io);
}
