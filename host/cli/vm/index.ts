// runbox vm: boot built images locally under QEMU, list and stop them, and write Firecracker
// configs. Each subcommand is its own module with its own flags, loaded when it runs.
import { runGroup, type CommandGroup } from '../command.js';
import type { CliIo } from '../io.js';
import { RUN_FLAGS_HELP } from './run-flags.js';

export const USAGE = `Usage:
  runbox vm run <image|machine.json> [--net tap|user] [--memory MiB] [--cpus N] [--token-file F]
                        [--init systemd|openrc] [--accel tcg|kvm] [--machine microvm|q35]
                        [--isolation shared|per-run] [--wait-ms N] [--detach] [--json]
  runbox vm create <image|machine.json> [--net tap|user] [--memory MiB] [--cpus N] [--init systemd|openrc]
                        [--accel tcg|kvm] [--machine microvm|q35] [--isolation shared|per-run]
                        [--wait-ms N] [--json]
  runbox vm pause <id> [--json]
  runbox vm resume <id> [--wait-ms N] [--json]
  runbox vm fork <id> [-n N] [--json]
  runbox vm stop <id>... | --all
  runbox vm ls [--json]
  runbox vm firecracker-config <image> --tap NAME --vsock PATH [--out DIR] [--init systemd|openrc]
                        [--memory MiB] [--cpus N] [--token-file F]

run      boots a built image (runbox image build <image>), or a machine package (runbox machine
         export, fetched and verified when missing), under QEMU, waits until its agent answers
         Health, prints the target to dial and the console log, and stays in the foreground until
         Ctrl-C or SIGTERM, then stops the VM and removes everything it created. --detach returns
         once the agent answers and leaves the VM running (state under $RUNBOX_HOME/vms/<id>/).
create   a sandbox restored from the image's template snapshot (the first create boots cold once
         and saves it), claimed with its own token and left running (docs/lifecycle.md).
pause    saves a running sandbox to disk and ends its QEMU; resume brings it back, same machine.
fork     N new sandboxes that go on from a running one's state; it runs on.
stop     stops detached VMs and sandboxes and removes what they created; a paused id discards it.
ls       lists running, paused and dead sandboxes and VMs (dead ones are cleaned up).
firecracker-config
         writes <out>/firecracker.json for \`firecracker --config-file\`, plus a sparse copy of the
         rootfs (Firecracker writes to its root drive) and token.img with --token-file.

Options of run (create takes the same but --token-file and --detach; resume takes --wait-ms):
${RUN_FLAGS_HELP}      --all            (stop) every VM listed by vm ls
      --tap NAME       (firecracker-config) host TAP device for the guest's eth0
      --vsock PATH     (firecracker-config) Unix socket Firecracker creates for vsock
      --out DIR        (firecracker-config) output directory (default ./firecracker-<image>)
  -h, --help           show this help
`;

export const GROUP: CommandGroup = {
  name: 'vm',
  usage: USAGE,
  subcommands: {
    run: async () => (await import('./run.js')).command,
    create: async () => (await import('./create.js')).command,
    pause: async () => (await import('./pause.js')).command,
    resume: async () => (await import('./resume.js')).command,
    fork: async () => (await import('./fork.js')).command,
    stop: async () => (await import('./stop.js')).command,
    ls: async () => (await import('./ls.js')).command,
    'firecracker-config': async () => (await import('./firecracker-config.js')).command,
  },
  missingUsageTo: 'stdout',
};

export function main(argv: string[], io: CliIo): Promise<number> {
  return runGroup(GROUP, argv, io);
}
