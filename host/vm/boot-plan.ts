// What a boot will be, decided before anything is created: validated options, the guest
// network (tap namespace or user-mode), and the kernel command line.
import { existsSync } from 'node:fs';
import { AbortError, InvalidArgumentError } from '../errors.js';
import type { InitSystem } from '../image/spec.js';
import { runCommand, TOOL_TIMEOUT_MS } from '../local/command.js';
import { ipArg, joinBootArgs, TAP_NET, USER_NET } from './bootargs.js';
import { hostTscKhz } from './hostinfo.js';
import { freeLoopbackPort, netnsName, TAP_IFNAME } from './network.js';
import type { Accel, Machine, QemuConfig } from './qemu.js';
import type { NetMode } from './state.js';
import type { BootOptions } from './boot.js';

export const AGENT_PORT = 5000;

export interface BootPlan {
  net: NetMode;
  cpus: number;
  memoryMiB: number;
  accel: Accel;
  init: InitSystem;
  machine: Machine;
}

function positive(name: string, value: number, max: number): number {
  if (!Number.isInteger(value) || value < 1 || value > max)
    throw new InvalidArgumentError(`${name} ${value}: expected an integer 1-${max}`);
  return value;
}

function checkVsock(cid: number | undefined): void {
  if (cid === undefined) return;
  if (!Number.isInteger(cid) || cid < 3 || cid > 0xfffffffe) throw new InvalidArgumentError(`vsockCid ${cid}: expected an integer >= 3`);
  if (!existsSync('/dev/vhost-vsock')) {
    throw new InvalidArgumentError(
      'vsockCid: this host has no /dev/vhost-vsock (load the vhost_vsock module), so QEMU cannot attach a vsock device',
    );
  }
}

let machines: Promise<string> | undefined;

/** microvm unless asked otherwise or this QEMU lacks it (then q35, which needs virtio_pci in the initramfs). */
async function chooseMachine(wanted: Machine | 'auto'): Promise<Machine> {
  if (wanted !== 'auto') return wanted;
  machines ??= runCommand(['qemu-system-x86_64', '-machine', 'help'], { timeoutMs: TOOL_TIMEOUT_MS }).catch(() => '');
  return /^microvm\b/m.test(await machines) ? 'microvm' : 'q35';
}

/** Checks every option; throws InvalidArgumentError naming the first bad one, AbortError if already aborted. */
export async function planBoot(options: BootOptions): Promise<BootPlan> {
  const isRoot = process.getuid?.() === 0;
  const net: NetMode = options.net ?? (isRoot ? 'tap' : 'user');
  if (net !== 'tap' && net !== 'user') throw new InvalidArgumentError(`net ${String(net)}: expected tap or user`);
  if (net === 'tap' && !isRoot)
    throw new InvalidArgumentError('net tap: creating a network namespace and TAP device needs root; use net user');
  const cpus = positive('cpus', options.cpus ?? 2, 32);
  const memoryMiB = positive('memoryMiB', options.memoryMiB ?? 1024, 1 << 20);
  if (memoryMiB < 128) throw new InvalidArgumentError(`memoryMiB ${memoryMiB}: at least 128 (the agent runs on Node)`);
  const accel: Accel = options.accel ?? ((process.env.RUNBOX_ACCEL as Accel | undefined) || 'tcg');
  if (accel !== 'tcg' && accel !== 'kvm') throw new InvalidArgumentError(`accel ${String(accel)}: expected tcg or kvm`);
  if (options.isolation !== undefined && options.isolation !== 'shared' && options.isolation !== 'per-run') {
    throw new InvalidArgumentError(`isolation ${String(options.isolation)}: expected shared or per-run`);
  }
  if (options.signal?.aborted) throw new AbortError('bootVm: aborted before it started');
  checkVsock(options.vsockCid);
  return { net, cpus, memoryMiB, accel, init: options.init ?? 'systemd', machine: await chooseMachine(options.machine ?? 'auto') };
}

export interface GuestNetwork {
  /** The kernel's ip= argument. */
  ip: string;
  qemu: QemuConfig['net'];
  /** What the host dials, and the agent's address on the guest network. */
  target: string;
  guestTarget: string;
  netns?: string;
  describe: string;
}

/** The guest's network for VM `id`: a namespace of its own (tap) or a free loopback port (user). */
export async function guestNetwork(mode: NetMode, id: string, agentSocket: string): Promise<GuestNetwork> {
  if (mode === 'tap') {
    const netns = netnsName(id);
    return {
      ip: ipArg(TAP_NET.guestIp, TAP_NET.hostIp, TAP_NET.netmask),
      qemu: { kind: 'tap', ifname: TAP_IFNAME },
      target: `unix://${agentSocket}`,
      guestTarget: `tcp://${TAP_NET.guestIp}:${AGENT_PORT}`,
      netns,
      describe: `namespace ${netns}, ${TAP_IFNAME} ${TAP_NET.hostIp}/${TAP_NET.prefix}, guest ${TAP_NET.guestIp}`,
    };
  }
  const hostPort = await freeLoopbackPort();
  return {
    ip: ipArg(USER_NET.guestIp, USER_NET.gateway, USER_NET.netmask),
    qemu: { kind: 'user', hostPort, guestIp: USER_NET.guestIp, guestPort: AGENT_PORT },
    target: `tcp://127.0.0.1:${hostPort}`,
    guestTarget: `tcp://${USER_NET.guestIp}:${AGENT_PORT}`,
    describe: `user-mode, 127.0.0.1:${hostPort} -> guest ${USER_NET.guestIp}:${AGENT_PORT}`,
  };
}

/** The kernel command line: the image's arguments, then the machine's, the clock, ip=, extras last. */
export function kernelArgs(plan: BootPlan, imageBootArgs: string, ip: string, options: BootOptions): string {
  const khz = plan.accel === 'tcg' ? hostTscKhz() : undefined;
  return joinBootArgs(
    'console=ttyS0',
    imageBootArgs,
    plan.machine === 'microvm' ? 'pci=off' : undefined,
    khz ? `tsc_early_khz=${khz}` : undefined,
    ip,
    options.sysrq ? 'sysrq_always_enabled=1' : undefined,
    options.isolation ? `runbox.isolation=${options.isolation}` : undefined,
    options.extraBootArgs,
  );
}
