// runbox vm: boot built images locally under QEMU, list and stop them, and write Firecracker configs.
import { EXIT, UsageError, choice, intFlag, parse, printJson, readToken, runVerb } from './common.js';
import type { CliIo } from './io.js';
import { bootVm, type VmHandle } from '../vm/boot.js';
import { stopVm } from '../vm/stop.js';
import { listStates, readState, type VmState } from '../vm/state.js';
import { isVmId, vmDir } from '../vm/paths.js';
import { isAlive } from '../vm/run.js';
import { writeFirecrackerConfig } from '../vm/firecracker.js';
import { NotFoundError } from '../errors.js';
import type { InitSystem } from '../image/spec.js';

const USAGE = `Usage:
  runbox vm run <image> [--net tap|user] [--memory MiB] [--cpus N] [--token-file F]
                        [--init systemd|openrc] [--accel tcg|kvm] [--machine microvm|q35] [--detach] [--json]
  runbox vm stop <id>... | --all
  runbox vm ls [--json]
  runbox vm firecracker-config <image> --tap NAME --vsock PATH [--out DIR] [--init systemd|openrc]
                        [--memory MiB] [--cpus N] [--token-file F]

run      boots a built image (runbox image build <image>) under QEMU, waits until its agent answers
         Health, prints the target to dial and the console log, and stays in the foreground until
         Ctrl-C or SIGTERM, then stops the VM and removes everything it created. --detach returns
         once the agent answers and leaves the VM running (state under $RUNBOX_HOME/vms/<id>/).
stop     stops detached VMs and removes their network namespace, overlay disk and state.
ls       lists VMs started with --detach (or left behind by a crashed runbox).
firecracker-config
         writes <out>/firecracker.json for \`firecracker --config-file\`, plus a sparse copy of the
         rootfs (Firecracker writes to its root drive) and token.img with --token-file.

Options:
      --net M          tap (default as root): a network namespace runbox-<id> with a TAP device,
                       guest 172.16.0.2, reached through a Unix socket; user: QEMU user-mode
                       network, guest reachable on a free 127.0.0.1 port
      --memory MiB     guest memory (default 1024)
      --cpus N         vCPUs (default 2)
      --token-file F   require the token in F (passed to the guest as a raw disk)
      --init I         which build of the image: systemd (default) or openrc
      --accel A        tcg (default; env RUNBOX_ACCEL) or kvm
      --machine M      microvm (default) or q35
      --wait-ms N      give up if the agent has not answered after N ms (default 180000)
      --detach         return once ready; stop later with: runbox vm stop <id>
      --json           print the VM's state as JSON
      --all            (stop) every VM listed by vm ls
      --tap NAME       (firecracker-config) host TAP device for the guest's eth0
      --vsock PATH     (firecracker-config) Unix socket Firecracker creates for vsock
      --out DIR        (firecracker-config) output directory (default ./firecracker-<image>)
  -h, --help           show this help
`;

const OPTIONS = {
  net: { type: 'string' },
  memory: { type: 'string' },
  cpus: { type: 'string' },
  'token-file': { type: 'string' },
  init: { type: 'string' },
  accel: { type: 'string' },
  machine: { type: 'string' },
  'wait-ms': { type: 'string' },
  detach: { type: 'boolean' },
  json: { type: 'boolean' },
  all: { type: 'boolean' },
  tap: { type: 'string' },
  vsock: { type: 'string' },
  out: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = ReturnType<typeof parse<typeof OPTIONS>>['values'];

function onlyFor(verb: string, values: Values, flags: (keyof Values)[]): void {
  for (const flag of flags) {
    if (values[flag] !== undefined) throw new UsageError(`--${String(flag)} is not an option of vm ${verb}`);
  }
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

async function run(positionals: string[], values: Values, io: CliIo): Promise<number> {
  onlyFor('run', values, ['all', 'tap', 'vsock', 'out']);
  if (positionals.length !== 1) throw new UsageError('vm run takes exactly one image name, e.g. runbox vm run python');
  const tokenFile = values['token-file'];
  const token = tokenFile !== undefined ? readToken(tokenFile, io.env) : undefined;
  const stopSignal = new AbortController();
  const onSignal = () => stopSignal.abort();
  io.events.once('SIGINT', onSignal);
  io.events.once('SIGTERM', onSignal);
  try {
    const vm = await bootVm(positionals[0]!, {
      net: choice('net', values.net, ['tap', 'user'] as const),
      memoryMiB: intFlag('memory', values.memory),
      cpus: intFlag('cpus', values.cpus),
      token,
      init: choice('init', values.init, ['systemd', 'openrc'] as const),
      accel: choice('accel', values.accel, ['tcg', 'kvm'] as const),
      machine: choice('machine', values.machine, ['microvm', 'q35'] as const),
      readyTimeoutMs: intFlag('wait-ms', values['wait-ms']),
      detached: values.detach,
      signal: stopSignal.signal,
      onProgress: (p) => io.stderr.write(`[${p.elapsed.toFixed(1).padStart(5)} s] ${p.stage}: ${p.message}\n`),
    });
    if (values.json) printJson(io, vm.state);
    else io.stdout.write(describe(vm));
    if (values.detach) {
      if (!values.json) io.stdout.write(`stop     runbox vm stop ${vm.id}\n`);
      return EXIT.ok;
    }
    if (!values.json) io.stdout.write('stop     Ctrl-C\n');
    const why = await Promise.race([
      new Promise<string>((resolve) => stopSignal.signal.addEventListener('abort', () => resolve('signal'), { once: true })),
      vm.exited.then(() => 'exited'),
    ]);
    const method = await vm.stop();
    io.stderr.write(why === 'exited' ? `vm ${vm.id}: QEMU exited; cleaned up\n` : `vm ${vm.id}: stopped (${method}); cleaned up\n`);
    return EXIT.ok;
  } finally {
    io.events.off('SIGINT', onSignal);
    io.events.off('SIGTERM', onSignal);
  }
}

async function stop(positionals: string[], values: Values, io: CliIo): Promise<number> {
  onlyFor('stop', values, ['net', 'memory', 'cpus', 'token-file', 'init', 'accel', 'machine', 'detach', 'tap', 'vsock', 'out']);
  let states: VmState[];
  if (values.all) {
    if (positionals.length > 0) throw new UsageError('vm stop: give ids or --all, not both');
    states = await listStates();
  } else {
    if (positionals.length === 0) throw new UsageError('vm stop needs a VM id (see runbox vm ls) or --all');
    states = [];
    for (const id of positionals) {
      if (!isVmId(id)) throw new UsageError(`vm stop ${JSON.stringify(id)}: not a VM id (see runbox vm ls)`);
      const state = await readState(vmDir(id));
      if (!state) throw new NotFoundError(`vm ${id}: no such VM (see runbox vm ls)`);
      states.push(state);
    }
  }
  for (const state of states) {
    const method = await stopVm(state);
    io.stdout.write(`vm ${state.id}: stopped (${method})\n`);
  }
  return EXIT.ok;
}

async function ls(positionals: string[], values: Values, io: CliIo): Promise<number> {
  onlyFor('ls', values, ['net', 'memory', 'cpus', 'token-file', 'init', 'accel', 'machine', 'detach', 'all', 'tap', 'vsock', 'out']);
  if (positionals.length > 0) throw new UsageError('vm ls takes no arguments');
  const states = (await listStates()).map((s) => ({ ...s, running: s.pid > 0 && isAlive(s.pid) }));
  if (values.json) {
    printJson(io, states);
    return EXIT.ok;
  }
  if (states.length === 0) {
    io.stdout.write('no VMs\n');
    return EXIT.ok;
  }
  io.stdout.write(['ID'.padEnd(10), 'IMAGE'.padEnd(18), 'NET'.padEnd(5), 'STATUS'.padEnd(8), 'TARGET'].join(' ') + '\n');
  for (const s of states) {
    const status = s.running ? 'running' : 'dead';
    io.stdout.write([s.id.padEnd(10), `${s.image}/${s.init}`.padEnd(18), s.net.padEnd(5), status.padEnd(8), s.target].join(' ') + '\n');
  }
  return EXIT.ok;
}

async function firecrackerConfigVerb(positionals: string[], values: Values, io: CliIo): Promise<number> {
  onlyFor('firecracker-config', values, ['net', 'accel', 'machine', 'detach', 'all', 'wait-ms']);
  if (positionals.length !== 1) throw new UsageError('vm firecracker-config takes exactly one image name');
  if (!values.tap) throw new UsageError('vm firecracker-config: --tap NAME is required (the host TAP device for eth0)');
  if (!values.vsock) throw new UsageError('vm firecracker-config: --vsock PATH is required (the Unix socket for hybrid vsock)');
  const image = positionals[0]!;
  const token = values['token-file'] !== undefined ? readToken(values['token-file'], io.env) : undefined;
  const written = await writeFirecrackerConfig(image, {
    tap: values.tap,
    vsockPath: values.vsock,
    outDir: values.out ?? `firecracker-${image}`,
    init: choice('init', values.init, ['systemd', 'openrc'] as const) as InitSystem | undefined,
    token,
    cpus: intFlag('cpus', values.cpus),
    memoryMiB: intFlag('memory', values.memory),
  });
  if (values.json) printJson(io, written);
  else {
    io.stdout.write(`wrote ${written.configFile}\n`);
    io.stdout.write(`boot:  firecracker --api-sock <api.sock> --config-file ${written.configFile}\n`);
    io.stdout.write(`dial:  vsock://${written.config.vsock.uds_path}:5000  or  tcp://172.16.0.2:5000 over ${values.tap} (host side 172.16.0.1/30)\n`);
  }
  return EXIT.ok;
}

export async function main(argv: string[], io: CliIo): Promise<number> {
  return runVerb(USAGE, io, async () => {
    const [sub, ...rest] = argv;
    if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
      io.stdout.write(USAGE);
      return sub === undefined ? EXIT.usage : EXIT.ok;
    }
    const { values, positionals } = parse(rest, OPTIONS);
    if (values.help) return (io.stdout.write(USAGE), EXIT.ok);
    switch (sub) {
      case 'run':
        return run(positionals, values, io);
      case 'stop':
        return stop(positionals, values, io);
      case 'ls':
        return ls(positionals, values, io);
      case 'firecracker-config':
        return firecrackerConfigVerb(positionals, values, io);
      default:
        throw new UsageError(`unknown vm command '${sub}': expected run, stop, ls or firecracker-config`);
    }
  });
}
