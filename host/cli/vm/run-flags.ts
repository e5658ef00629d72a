// The help lines of `vm run`'s flags: shown by `runbox vm run --help` and in `runbox vm --help`;
// and the machine flags `vm run` and `vm create` share, parsed once. Apart from run.ts so the
// overview does not load the launcher.
import { choice, intFlag } from '../common.js';
import type { CliIo } from '../io.js';
import type { BootOptions } from '../../vm/boot.js';

/** The flags that shape the machine, as parseArgs options. */
export const MACHINE_FLAGS = {
  net: { type: 'string' },
  memory: { type: 'string' },
  cpus: { type: 'string' },
  init: { type: 'string' },
  accel: { type: 'string' },
  machine: { type: 'string' },
  isolation: { type: 'string' },
  'wait-ms': { type: 'string' },
} as const;

export type MachineOptions = Pick<
  BootOptions,
  'net' | 'memoryMiB' | 'cpus' | 'init' | 'accel' | 'machine' | 'isolation' | 'readyTimeoutMs'
>;

/** MACHINE_FLAGS' values as boot options; a value outside its set is a UsageError naming the flag. */
export function machineOptions(values: Partial<Record<keyof typeof MACHINE_FLAGS, string>>): MachineOptions {
  return {
    net: choice('net', values.net, ['tap', 'user'] as const),
    memoryMiB: intFlag('memory', values.memory),
    cpus: intFlag('cpus', values.cpus),
    init: choice('init', values.init, ['systemd', 'openrc'] as const),
    accel: choice('accel', values.accel, ['tcg', 'kvm'] as const),
    machine: choice('machine', values.machine, ['microvm', 'q35'] as const),
    isolation: choice('isolation', values.isolation, ['shared', 'per-run'] as const),
    readyTimeoutMs: intFlag('wait-ms', values['wait-ms']),
  };
}

/** Progress of a boot or restore, one line each on stderr. */
export const progressTo = (io: CliIo) => (p: { elapsed: number; stage: string; message: string }) =>
  io.stderr.write(`[${p.elapsed.toFixed(1).padStart(5)} s] ${p.stage}: ${p.message}\n`);

export const RUN_FLAGS_HELP = `      --net M          tap (default as root): a network namespace runbox-<id> with a TAP device,
                       guest 172.16.0.2, reached through a Unix socket; user: QEMU user-mode
                       network, guest reachable on a free 127.0.0.1 port
      --memory MiB     guest memory (default 1024)
      --cpus N         vCPUs (default 2)
      --token-file F   require the token in F (passed to the guest as a raw disk)
      --init I         which build of the image: systemd (default) or openrc
      --accel A        tcg (default; env RUNBOX_ACCEL) or kvm
      --machine M      microvm (default) or q35
      --isolation I    shared (default): all user code is one user; per-run: a uid, /tmp
                       and /proc of its own per run and shell (docs/isolation.md)
      --wait-ms N      give up if the agent has not answered after N ms (default 180000)
      --detach         return once ready; stop later with: runbox vm stop <id>
      --json           print the VM's state as JSON
`;
