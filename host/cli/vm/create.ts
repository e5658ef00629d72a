// runbox vm create: a sandbox restored from the image's template snapshot (made first by one
// cold boot when there is none), left running; prints its target and token file.
import { EXIT, UsageError } from '../common.js';
import { defineCommand } from '../command.js';
import type { CliIo } from '../io.js';
import { createSandbox } from '../../vm/create.js';
import { printSandboxes } from './sandbox-output.js';
import { MACHINE_FLAGS, machineOptions, progressTo, type MachineOptions } from './run-flags.js';

export const USAGE = `Usage: runbox vm create <image|machine.json> [--net tap|user] [--memory MiB] [--cpus N] [--init systemd|openrc]
                           [--accel tcg|kvm] [--machine microvm|q35] [--isolation shared|per-run]
                           [--wait-ms N] [--json]

Creates a sandbox of a built image from its template snapshot: the first create of an image
in a shape boots it cold once and saves the template; later ones restore it in seconds. The
sandbox is claimed (a token, entropy and clock of its own) and left running; its token is
in the printed token file (root only). A machine package (runbox machine export) is found
by content id or fetched from its repos first, and gives the shape flags do not set. See
docs/lifecycle.md and docs/sharing.md.

Options:
      --net M          tap (default as root) or user
      --memory MiB     guest memory (default 1024)
      --cpus N         vCPUs (default 2)
      --init I         systemd (default) or openrc
      --accel A        tcg (default) or kvm
      --machine M      microvm (default) or q35
      --isolation I    shared (default) or per-run (docs/isolation.md)
      --wait-ms N      give up if the agent has not answered after N ms (default 180000)
      --json           print the sandbox as JSON (id, target, tokenFile, restoredFrom, image, readySeconds)
  -h, --help           show this help
`;

export interface CreateVerbOptions {
  image: string;
  create: MachineOptions;
  json: boolean;
}

async function run(o: CreateVerbOptions, io: CliIo): Promise<number> {
  const sb = await createSandbox(o.image, { ...o.create, detached: true, onProgress: progressTo(io) });
  await sb.close();
  printSandboxes(io, [sb], o.json);
  return EXIT.ok;
}

export const command = defineCommand({
  name: 'vm create',
  usage: USAGE,
  flags: {
    ...MACHINE_FLAGS,
    json: { type: 'boolean' },
  } as const,
  options(values, positionals): CreateVerbOptions {
    if (positionals.length !== 1) throw new UsageError('vm create takes exactly one image name, e.g. runbox vm create python');
    return {
      image: positionals[0]!,
      create: machineOptions(values),
      json: values.json ?? false,
    };
  },
  run,
});
