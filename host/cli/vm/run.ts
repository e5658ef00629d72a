// runbox vm run: boot a built image under QEMU; in the foreground until Ctrl-C/SIGTERM, or --detach.
import { EXIT, UsageError, printJson, readToken } from '../common.js';
import { defineCommand } from '../command.js';
import { MACHINE_FLAGS, RUN_FLAGS_HELP, machineOptions, progressTo, type MachineOptions } from './run-flags.js';
import type { CliIo } from '../io.js';
import { bootVm, type VmHandle } from '../../vm/boot.js';
import type { VmState } from '../../vm/state.js';
import { machineBootOptions, readMachine, resolveMachine } from '../../share/index.js';
import { progressLines } from '../image/transfer-flags.js';

export const USAGE = `Usage: runbox vm run <image|machine.json> [--net tap|user] [--memory MiB] [--cpus N] [--token-file F]
                        [--init systemd|openrc] [--accel tcg|kvm] [--machine microvm|q35]
                        [--isolation shared|per-run] [--wait-ms N] [--detach] [--json]

Boots a built image (runbox image build <image>) under QEMU, waits until its agent answers
Health, prints the target to dial and the console log, and stays in the foreground until
Ctrl-C or SIGTERM, then stops the VM and removes everything it created. --detach returns
once the agent answers and leaves the VM running (state under $RUNBOX_HOME/vms/<id>/).
A machine package (a path ending in .json, from \`runbox machine export\`) boots its image
with its shape; assets not here are fetched from its repos and verified first
(docs/sharing.md). Flags given override the package's shape.

Options:
${RUN_FLAGS_HELP}  -h, --help           show this help
`;

export interface RunOptions {
  image: string;
  /** What bootVm gets from the flags (token, signal and progress are added when running). */
  boot: MachineOptions;
  tokenFile?: string;
  detach: boolean;
  json: boolean;
}

function describe(vm: VmHandle | VmState): string {
  const state = 'state' in vm ? vm.state : vm;
  const lines = [
    `vm ${state.id} ready in ${state.bootToReadySeconds ?? '?'} s (${state.image}, ${state.init}, ${state.machine}/${state.accel}, ${state.cpus} vCPU, ${state.memoryMiB} MiB, net ${state.net})`,
    `target   ${state.target}`,
    state.netns ? `guest    ${state.guestTarget} (inside network namespace ${state.netns})` : `guest    ${state.guestTarget}`,
    `console  ${state.consoleLog}`,
  ];
  return lines.join('\n') + '\n';
}

/** Serves until a signal or QEMU's exit, then stops the VM and cleans up. */
async function foreground(vm: VmHandle, stopSignal: AbortSignal, io: CliIo): Promise<number> {
  const why = await Promise.race([
    new Promise<string>((resolve) => stopSignal.addEventListener('abort', () => resolve('signal'), { once: true })),
    vm.exited.then(() => 'exited'),
  ]);
  const method = await vm.stop();
  io.stderr.write(why === 'exited' ? `vm ${vm.id}: QEMU exited; cleaned up\n` : `vm ${vm.id}: stopped (${method}); cleaned up\n`);
  return EXIT.ok;
}

/** A machine package: its image made present (fetched if need be) and its shape under the flags given. */
async function fromPackage(o: RunOptions, io: CliIo): Promise<{ image: string; boot: MachineOptions }> {
  if (!o.image.endsWith('.json')) return { image: o.image, boot: o.boot };
  const m = await resolveMachine(await readMachine(o.image), {
    onStep: (message) => io.stderr.write(`machine: ${message}\n`),
    onProgress: progressLines(io),
  });
  return { image: m.name, boot: machineBootOptions(m, o.boot) };
}

async function run(o: RunOptions, io: CliIo): Promise<number> {
  const { image, boot } = await fromPackage(o, io);
  const token = o.tokenFile !== undefined ? readToken(o.tokenFile, io.env) : undefined;
  const stopSignal = new AbortController();
  const onSignal = () => stopSignal.abort();
  io.events.once('SIGINT', onSignal);
  io.events.once('SIGTERM', onSignal);
  try {
    const vm = await bootVm(image, {
      ...boot,
      token,
      detached: o.detach,
      signal: stopSignal.signal,
      onProgress: progressTo(io),
    });
    if (o.json) printJson(io, vm.state);
    else io.stdout.write(describe(vm));
    if (o.detach) {
      if (!o.json) io.stdout.write(`stop     runbox vm stop ${vm.id}\n`);
      return EXIT.ok;
    }
    if (!o.json) io.stdout.write('stop     Ctrl-C\n');
    return await foreground(vm, stopSignal.signal, io);
  } finally {
    io.events.off('SIGINT', onSignal);
    io.events.off('SIGTERM', onSignal);
  }
}

export const command = defineCommand({
  name: 'vm run',
  usage: USAGE,
  flags: {
    ...MACHINE_FLAGS,
    'token-file': { type: 'string' },
    detach: { type: 'boolean' },
    json: { type: 'boolean' },
  } as const,
  options(values, positionals): RunOptions {
    if (positionals.length !== 1)
      throw new UsageError(
        'vm run takes exactly one image name or machine package, e.g. runbox vm run python, runbox vm run ./machine.json',
      );
    return {
      image: positionals[0]!,
      boot: machineOptions(values),
      ...(values['token-file'] !== undefined ? { tokenFile: values['token-file'] } : {}),
      detach: values.detach ?? false,
      json: values.json ?? false,
    };
  },
  run,
});
