// bootVm: boots a built image under QEMU and returns once the agent answers Health.
// See docs/vms.md for the contract (networking, disks, clock, stop, figures).
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, openSync, closeSync, readFileSync } from 'node:fs';
import { mkdir, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Sandbox } from '../sandbox.js';
import type { Health } from '../system/index.js';
import { AbortError, InvalidArgumentError, RunboxError, SandboxUnavailableError, type ErrorCode } from '../errors.js';
import type { InitSystem } from '../image/spec.js';
import { findBootableImage } from './image.js';
import { vmDir } from './paths.js';
import { hostTscKhz } from './hostinfo.js';
import { ipArg, joinBootArgs, TAP_NET, USER_NET } from './bootargs.js';
import { qemuArgv, type Accel, type Machine, type QemuConfig } from './qemu.js';
import { createOverlay, writeTokenDisk } from './disks.js';
import { createTapNamespace, freeLoopbackPort, inNamespace, netnsName, TAP_IFNAME } from './network.js';
import { writeState, type NetMode, type VmState } from './state.js';
import { stopVm, type StopMethod } from './stop.js';
import { runTool, sleep } from './run.js';
import { sendSysrq } from './console.js';

export const AGENT_PORT = 5000;

export interface VmProgress {
  stage: 'image' | 'disks' | 'network' | 'qemu' | 'wait' | 'ready';
  message: string;
  /** Seconds since bootVm was called. */
  elapsed: number;
}

export interface BootOptions {
  /** tap (default when root): a namespace + TAP per VM; user: QEMU user-mode network. */
  net?: NetMode;
  memoryMiB?: number;
  cpus?: number;
  /** Require this token (passed to the guest as a raw second disk). */
  token?: string;
  init?: InitSystem;
  /** tcg (default; KVM is opt-in: nested KVM here asserted or hung) or kvm. Env: RUNBOX_ACCEL. */
  accel?: Accel;
  /** microvm (default), q35, or auto (microvm, q35 if this QEMU has no microvm). */
  machine?: Machine | 'auto';
  /** Image directory (default $RUNBOX_HOME/images). */
  imagesDir?: string;
  /** Extra kernel arguments, appended last (they override the defaults). */
  extraBootArgs?: string;
  /**
   * Attach QEMU's vhost-vsock device with this guest CID (>= 3, unique on the host). Needs
   * /dev/vhost-vsock; the host side is AF_VSOCK, not Firecracker's hybrid socket (docs/vsock.md).
   */
  vsockCid?: number;
  /** Let the host send Magic SysRq keys on the serial console (handle.sysrq; boot arg sysrq_always_enabled=1). */
  sysrq?: boolean;
  /** Give up waiting for Health after this long (default 180000: TCG is slow). */
  readyTimeoutMs?: number;
  /** Leave the VM running when this process exits (`vm run --detach`). */
  detached?: boolean;
  onProgress?: (progress: VmProgress) => void;
  signal?: AbortSignal;
}

export interface VmHandle {
  readonly id: string;
  /** What to dial from this host: unix://<dir>/agent.sock (tap) or tcp://127.0.0.1:<port> (user). */
  readonly target: string;
  /** The agent on the guest network, tcp://172.16.0.2:5000 (tap: reachable inside `netns` only). */
  readonly guestTarget: string;
  readonly netns: string | undefined;
  readonly consoleLog: string;
  readonly pid: number;
  readonly bootToReadySeconds: number;
  /** The agent's Health at the moment it first answered. */
  readonly health: Health;
  readonly state: VmState;
  /** Resolves when QEMU exits (whoever ended it). */
  readonly exited: Promise<void>;
  /** Sends a Magic SysRq key on the serial console (needs BootOptions.sysrq). */
  sysrq(key: string): Promise<void>;
  /** Ends QEMU and removes the namespace, forwarder, overlay and state directory. Idempotent. */
  stop(): Promise<StopMethod>;
}

/** The VM did not get to a serving agent: QEMU exited first or readyTimeoutMs passed. */
export class VmBootError extends RunboxError {
  static override readonly code: ErrorCode = 'vm_boot_failed';
  /** Path of the kept console log ($TMPDIR/runbox-vm-<id>-console.log); the message quotes its last lines. */
  readonly consoleLog: string;
  constructor(message: string, consoleLog: string, options?: { cause?: unknown }) {
    super(message, { reason: 'VM_BOOT_FAILED', ...options });
    this.consoleLog = consoleLog;
  }
}

let machines: Promise<string> | undefined;

/** microvm unless asked otherwise or this QEMU lacks it (then q35, which needs virtio_pci in the initramfs). */
async function chooseMachine(wanted: Machine | 'auto'): Promise<Machine> {
  if (wanted !== 'auto') return wanted;
  machines ??= runTool(['qemu-system-x86_64', '-machine', 'help']).catch(() => '');
  return /^microvm\b/m.test(await machines) ? 'microvm' : 'q35';
}

/** A failed boot's directory is removed: keep its console log where the error message says. */
async function keepConsoleLog(id: string, consoleLog: string): Promise<string> {
  const kept = join(tmpdir(), `runbox-vm-${id}-console.log`);
  try {
    await copyFile(consoleLog, kept);
    return kept;
  } catch {
    return consoleLog;
  }
}

function tail(file: string, lines: number): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

function positive(name: string, value: number, max: number): number {
  if (!Number.isInteger(value) || value < 1 || value > max) throw new InvalidArgumentError(`${name} ${value}: expected an integer 1-${max}`);
  return value;
}

/** Spawns argv in its own process group with stdout/stderr appended to `log`. */
function spawnDaemon(argv: string[], log: string): ChildProcess {
  const fd = openSync(log, 'a', 0o600);
  try {
    return spawn(argv[0]!, argv.slice(1), { detached: true, stdio: ['ignore', fd, fd] });
  } finally {
    closeSync(fd);
  }
}

async function waitForFile(path: string, timeoutMs: number, alive: () => boolean): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(path)) {
    if (!alive() || Date.now() > deadline) return false;
    await sleep(20);
  }
  return true;
}

/**
 * Boots a built image under QEMU and resolves once its agent answers Health (and, with a
 * token, one authenticated call). On failure everything it created is removed first.
 * @throws VmBootError (QEMU exited, or readyTimeoutMs passed), AbortError (options.signal).
 */
export async function bootVm(imageName: string, options: BootOptions = {}): Promise<VmHandle> {
  const t0 = Date.now();
  const progress = (stage: VmProgress['stage'], message: string) =>
    options.onProgress?.({ stage, message, elapsed: Math.round((Date.now() - t0) / 100) / 10 });
  const isRoot = process.getuid?.() === 0;
  const netMode: NetMode = options.net ?? (isRoot ? 'tap' : 'user');
  if (netMode !== 'tap' && netMode !== 'user') throw new InvalidArgumentError(`net ${String(netMode)}: expected tap or user`);
  if (netMode === 'tap' && !isRoot) throw new InvalidArgumentError('net tap: creating a network namespace and TAP device needs root; use net user');
  const cpus = positive('cpus', options.cpus ?? 2, 32);
  const memoryMiB = positive('memoryMiB', options.memoryMiB ?? 1024, 1 << 20);
  if (memoryMiB < 128) throw new InvalidArgumentError(`memoryMiB ${memoryMiB}: at least 128 (the agent runs on Node)`);
  const accel: Accel = options.accel ?? ((process.env.RUNBOX_ACCEL as Accel | undefined) || 'tcg');
  if (accel !== 'tcg' && accel !== 'kvm') throw new InvalidArgumentError(`accel ${String(accel)}: expected tcg or kvm`);
  const init = options.init ?? 'systemd';
  if (options.signal?.aborted) throw new AbortError('bootVm: aborted before it started');
  if (options.vsockCid !== undefined) {
    if (!Number.isInteger(options.vsockCid) || options.vsockCid < 3 || options.vsockCid > 0xfffffffe) {
      throw new InvalidArgumentError(`vsockCid ${options.vsockCid}: expected an integer >= 3`);
    }
    if (!existsSync('/dev/vhost-vsock')) {
      throw new InvalidArgumentError('vsockCid: this host has no /dev/vhost-vsock (load the vhost_vsock module), so QEMU cannot attach a vsock device');
    }
  }

  progress('image', `${imageName} (${init})`);
  const image = await findBootableImage(imageName, init, options.imagesDir);

  const id = randomBytes(4).toString('hex');
  const dir = vmDir(id);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const consoleLog = join(dir, 'console.log');
  const qemuLog = join(dir, 'qemu.log');
  const state: VmState = {
    id,
    image: imageName,
    init,
    dir,
    pid: 0,
    net: netMode,
    target: '',
    guestTarget: '',
    consoleLog,
    consoleSocket: join(dir, 'console.sock'),
    qmpSocket: join(dir, 'qmp.sock'),
    machine: await chooseMachine(options.machine ?? 'auto'),
    accel,
    cpus,
    memoryMiB,
    tokenRequired: options.token !== undefined,
    startedAt: new Date().toISOString(),
  };
  let qemu: ChildProcess | undefined;
  let exitHook: (() => void) | undefined;
  let stopped: Promise<StopMethod> | undefined;
  const cleanup = () => {
    if (exitHook) process.removeListener('exit', exitHook);
    stopped ??= stopVm(state);
    return stopped;
  };
  try {
    progress('disks', 'copy-on-write overlay over the image rootfs');
    const overlay = join(dir, 'root.qcow2');
    await createOverlay(image.rootfs, overlay);
    let tokenDisk: string | undefined;
    if (options.token !== undefined) {
      tokenDisk = join(dir, 'token.img');
      await writeTokenDisk(tokenDisk, options.token);
    }

    let ip: string;
    let net: QemuConfig['net'];
    if (netMode === 'tap') {
      state.netns = netnsName(id);
      progress('network', `namespace ${state.netns}, ${TAP_IFNAME} ${TAP_NET.hostIp}/${TAP_NET.prefix}, guest ${TAP_NET.guestIp}`);
      await createTapNamespace(state.netns);
      ip = ipArg(TAP_NET.guestIp, TAP_NET.hostIp, TAP_NET.netmask);
      net = { kind: 'tap', ifname: TAP_IFNAME };
      state.guestTarget = `tcp://${TAP_NET.guestIp}:${AGENT_PORT}`;
      state.target = `unix://${join(dir, 'agent.sock')}`;
    } else {
      const hostPort = await freeLoopbackPort();
      progress('network', `user-mode, 127.0.0.1:${hostPort} -> guest ${USER_NET.guestIp}:${AGENT_PORT}`);
      ip = ipArg(USER_NET.guestIp, USER_NET.gateway, USER_NET.netmask);
      net = { kind: 'user', hostPort, guestIp: USER_NET.guestIp, guestPort: AGENT_PORT };
      state.guestTarget = `tcp://${USER_NET.guestIp}:${AGENT_PORT}`;
      state.target = `tcp://127.0.0.1:${hostPort}`;
    }

    const khz = accel === 'tcg' ? hostTscKhz() : undefined;
    const append = joinBootArgs(
      'console=ttyS0',
      image.entry.bootArgs,
      state.machine === 'microvm' ? 'pci=off' : undefined,
      khz ? `tsc_early_khz=${khz}` : undefined,
      ip,
      options.sysrq ? 'sysrq_always_enabled=1' : undefined,
      options.extraBootArgs,
    );
    const config: QemuConfig = {
      machine: state.machine,
      accel,
      cpus,
      memoryMiB,
      kernel: image.kernel,
      initrd: image.initrd,
      append,
      rootDisk: { path: overlay, format: 'qcow2' },
      tokenDisk,
      net,
      consoleLog,
      consoleSocket: state.consoleSocket,
      qmpSocket: state.qmpSocket,
      vsockCid: options.vsockCid,
    };
    const argv = qemuArgv(config);
    progress('qemu', `${state.machine}, ${accel}, ${cpus} vCPU, ${memoryMiB} MiB; console ${consoleLog}`);
    const bootStart = Date.now();
    qemu = spawnDaemon(state.netns ? inNamespace(state.netns, argv) : argv, qemuLog);
    state.pid = qemu.pid!;
    let qemuExit: string | undefined;
    const exited = new Promise<void>((resolve) => {
      qemu!.once('exit', (code, signal) => {
        qemuExit = signal ? `signal ${signal}` : `exit code ${code}`;
        resolve();
      });
      qemu!.once('error', (error) => {
        qemuExit = error.message;
        resolve();
      });
    });
    const qemuAlive = () => qemuExit === undefined;
    if (!options.detached) {
      // If this process dies without stop(), do not leave the VM behind. Synchronous: 'exit' allows nothing else.
      exitHook = () => {
        for (const pid of [state.pid, state.forwarderPid]) {
          if (pid) try { process.kill(-pid, 'SIGKILL'); } catch { /* gone */ }
        }
        if (state.netns) try { execFileSync('ip', ['netns', 'del', state.netns], { stdio: 'ignore' }); } catch { /* gone */ }
      };
      process.once('exit', exitHook);
    }

    if (state.netns) {
      // The host process cannot enter the namespace; socat inside it forwards a Unix socket to the guest.
      const socketPath = join(dir, 'agent.sock');
      const forwarder = spawnDaemon(
        inNamespace(state.netns, ['socat', `UNIX-LISTEN:${socketPath},fork,mode=600`, `TCP:${TAP_NET.guestIp}:${AGENT_PORT}`]),
        join(dir, 'forwarder.log'),
      );
      state.forwarderPid = forwarder.pid!;
      let forwarderGone = false;
      forwarder.once('exit', () => (forwarderGone = true));
      if (!(await waitForFile(socketPath, 10_000, () => !forwarderGone))) {
        throw new SandboxUnavailableError(`forwarder (socat) did not create ${socketPath}: ${tail(join(dir, 'forwarder.log'), 5)}`);
      }
      if (options.detached) forwarder.unref();
    }
    await writeState(state);

    progress('wait', `waiting for Health on ${state.target}`);
    const sandbox = await Sandbox.connect(state.target, { token: options.token });
    const ready = new AbortController();
    const onAbort = () => ready.abort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    void exited.then(() => ready.abort());
    let health: Health;
    try {
      health = await sandbox.waitReady({ timeoutMs: options.readyTimeoutMs ?? 180_000, signal: ready.signal });
    } catch (error) {
      if (options.signal?.aborted) throw new AbortError('bootVm: aborted while waiting for the agent', { cause: error });
      const kept = await keepConsoleLog(id, consoleLog);
      if (!qemuAlive()) {
        throw new VmBootError(
          `VM ${id}: QEMU ended before the agent answered (${qemuExit}).\nqemu: ${tail(qemuLog, 5)}\nconsole (${kept}):\n${tail(kept, 15)}`,
          kept,
          { cause: error },
        );
      }
      throw new VmBootError(`VM ${id}: ${(error as Error).message}\nconsole (${kept}):\n${tail(kept, 15)}`, kept, { cause: error });
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
      await sandbox.close();
    }
    state.bootToReadySeconds = Math.round((Date.now() - bootStart) / 100) / 10;
    await writeState(state);
    progress('ready', `agent ${health.version} answered after ${state.bootToReadySeconds} s; dial ${state.target}`);
    if (options.detached) qemu.unref();

    return {
      id,
      target: state.target,
      guestTarget: state.guestTarget,
      netns: state.netns,
      consoleLog,
      pid: state.pid,
      bootToReadySeconds: state.bootToReadySeconds,
      health,
      state,
      exited,
      sysrq: async (key: string) => {
        if (!options.sysrq) throw new InvalidArgumentError('sysrq: boot the VM with { sysrq: true } to let the guest take SysRq keys');
        await sendSysrq(state.consoleSocket, key);
      },
      stop: async () => {
        const method = await cleanup();
        await exited;
        return method;
      },
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}
