// runbox image: build, list, verify, push, pull and publish VM images; front end of host/image (the rootfs/kernel/
// initrd builder). Each subcommand is its own module with its own flags, loaded when it runs.
import { runGroup, type CommandGroup } from '../command.js';
import type { CliIo } from '../io.js';

export const USAGE = `Usage:
  runbox image build <name|spec.json> [--init systemd|openrc] [--out DIR] [--agent-dir DIR] [--force]
  runbox image ls [--out DIR] [--json]
  runbox image verify [<name>] [--init systemd|openrc] [--out DIR] [--json]
  runbox image push <name>[/<init>] <host[:port]/repo:tag> [--username U --password-stdin] [--json]
  runbox image pull <host[:port]/repo[:tag|@digest]> [--username U --password-stdin] [--json]
  runbox image publish <name>[/<init>] --to <dir|listing.json> --uri-base <url> [--version V] [--json]
  runbox image pull --listing <path|url> <name>[@<version>] [--init I] [--json]

Builds per-language VM images (ext4 root filesystem + kernel + initramfs) from specs in
init/images/ (bash, python, nodejs, go, rust, python-jwt) or your own spec file that
"extends" one of them. Building needs root and the Debian mirror. push and pull share
built images through any OCI registry, verified by content id (docs/sharing.md).

Each subcommand's flags: runbox image <subcommand> --help.
`;

export const GROUP: CommandGroup = {
  name: 'image',
  usage: USAGE,
  subcommands: {
    build: async () => (await import('./build.js')).command,
    ls: async () => (await import('./ls.js')).command,
    verify: async () => (await import('./verify.js')).command,
    push: async () => (await import('./push.js')).command,
    pull: async () => (await import('./pull.js')).command,
    publish: async () => (await import('./publish.js')).command,
  },
  aliases: { list: 'ls' },
  missingUsageTo: 'stderr',
};

export function main(argv: string[], io: CliIo): Promise<number> {
  return runGroup(GROUP, argv, io);
}
