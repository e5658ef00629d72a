// bootVm: boots a built image under QEMU and returns once the agent answers Health.
// See docs/vms.md for the contract (networking, disks, clock, stop, figures).
import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Health } from '../system/index.js';
import { InvalidArgumentError } from '../errors.js';
import type { InitSystem } from '../image/spec.js';
import { CleanupStack } from '../local/cleanup.js';
import { findBootableImage, type BootableImage } from './image.js';
import { vmDir } from './paths.js';
import { qemuArgv, type Accel, type Machine } from './qemu.js';
import { createOverlay, writeTokenDisk } from './disks.js';
import { createTapNamespace, deleteNamespace } from './network.js';
import { writeState, type NetMode, type VmState } from './state.js';
import { stopForwarder, stopQemu, type StopMethod } from './stop.js';
import { sendSysrq } from './console.js';
import { guestNetwork, kernelArgs, planBoot, type BootPlan, type GuestNetwork } from './boot-plan.js';
import { killOnExit, startForwarder, startQemu, waitForAgent, type RunningQemu } from './boot-steps.js';
import { startLoaded } from './migrate.js';
import { templateSource, type RestoreSource, type Template } from './template.js';

export { AGENT_PORT } from './boot-plan.js';
export { VmBootError } from './boot-error.js';

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
  /**
   * How the agent keeps runs apart (its --isolation, via the boot argument runbox.isolation):
   * shared (the image's default) or per-run (docs/isolation.md).
   */
  isolation?: 'shared' | 'per-run';
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
  /** @internal A template's cold boot (create.ts): the guest's RAM is this file, mapped shared. */
  templateMemoryFile?: string;
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

/** Step: the VM's directory and its state record (pid and targets are filled in as they exist). */
async function createVmDir(imageName: string, plan: BootPlan, options: BootOptions, cleanup: CleanupStack): Promise<VmState> {
  const id = randomBytes(4).toString('hex');
  const dir = vmDir(id);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  cleanup.defer('remove the VM directory', () => rm(dir, { recursive: true, force: true }));
  return {
    id,
    image: imageName,
    init: plan.init,
    dir,
    pid: 0,
    net: plan.net,
    target: '',
    guestTarget: '',
    consoleLog: join(dir, 'console.log'),
    consoleSocket: join(dir, 'console.sock'),
    qmpSocket: join(dir, 'qmp.sock'),
    machine: plan.machine,
    accel: plan.accel,
    cpus: plan.cpus,
    memoryMiB: plan.memoryMiB,
    tokenRequired: options.token !== undefined,
    startedAt: new Date().toISOString(),
  };
}

/** Step: a copy-on-write overlay over the image's rootfs, and the token as a raw disk. */
interface Disks {
  overlay: string;
  tokenDisk?: string;
}

async function createDisks(
  state: VmState,
  image: BootableImage,
  token: string | undefined,
  from: RestoreSource | undefined,
  cleanup: CleanupStack,
): Promise<Disks> {
  const overlay = join(state.dir, 'root.qcow2');
  // A template's disk, frozen when its memory was saved, gets an overlay of its own; a paused
  // VM's disk becomes the resumed VM's, and goes back if the resume fails before the guest ran.
  if (from?.diskUse === 'overlay') {
    await createOverlay(from.disk, overlay, 'qcow2');
    return { overlay, tokenDisk: from.tokenDisk };
  }
  if (from?.diskUse === 'move') {
    await rename(from.disk, overlay);
    cleanup.defer('give the paused sandbox its disk back', async () => {
      if (!state.guestRan) await rename(overlay, from.disk);
    });
    return { overlay, tokenDisk: from.tokenDisk };
  }
  await createOverlay(image.rootfs, overlay);
  if (token === undefined) return { overlay };
  const tokenDisk = join(state.dir, 'token.img');
  await writeTokenDisk(tokenDisk, token);
  return { overlay, tokenDisk };
}

/** Step: QEMU, started and registered for cleanup (and killed if this process exits first, unless detached). */
interface Launched {
  qemu: RunningQemu;
  /** How cleanup ended QEMU, once it has run. */
  stopMethod: () => StopMethod;
}

function launch(
  state: VmState,
  plan: BootPlan,
  image: BootableImage,
  disks: Disks,
  net: GuestNetwork,
  options: BootOptions,
  cleanup: CleanupStack,
  from: RestoreSource | undefined,
): Launched {
  // A restore must present the machine exactly as it was booted, command line included.
  state.append = from ? from.append : kernelArgs(plan, image.entry.bootArgs, net.ip, options);
  const argv = qemuArgv({
    machine: plan.machine,
    accel: plan.accel,
    cpus: plan.cpus,
    memoryMiB: plan.memoryMiB,
    kernel: image.kernel,
    initrd: image.initrd,
    append: state.append,
    rootDisk: { path: disks.overlay, format: 'qcow2' },
    tokenDisk: disks.tokenDisk,
    net: net.qemu,
    consoleLog: state.consoleLog,
    consoleSocket: state.consoleSocket,
    qmpSocket: state.qmpSocket,
    vsockCid: options.vsockCid,
    incoming: from !== undefined,
    memoryFile: from
      ? from.memoryFile === undefined
        ? undefined
        : { path: from.memoryFile, share: false }
      : options.templateMemoryFile === undefined
        ? undefined
        : { path: options.templateMemoryFile, share: true },
  });
  const qemu = startQemu(state, argv, join(state.dir, 'qemu.log'));
  let method: StopMethod | undefined;
  cleanup.defer('stop QEMU', async () => {
    method = await stopQemu(state);
  });
  if (!options.detached) cleanup.defer('remove the exit hook', killOnExit(state));
  return { qemu, stopMethod: () => method ?? 'already-exited' };
}

/**
 * Boots a built image under QEMU and resolves once its agent answers Health (and, with a
 * token, one authenticated call). Each step registers its undo on one cleanup stack; on
 * failure the stack runs before the error is thrown, so nothing is left behind.
 * @throws VmBootError (QEMU exited, or readyTimeoutMs passed), AbortError (options.signal),
 *   InvalidArgumentError (a bad option, before anything is created).
 */
export async function bootVm(imageName: string, options: BootOptions = {}): Promise<VmHandle> {
  return startVm(imageName, options, undefined);
}

/**
 * Starts a VM from a template snapshot (template.ts) instead of booting: the same machine,
 * command line and devices, its memory loaded from the template's state, its disk an overlay
 * on the template's frozen disk. Resolves once the agent answers with the template's token;
 * the caller claims it (a token, entropy and the clock of its own) before anything else runs.
 * `options` must describe the template's shape (its key says so); token is ignored.
 */
export async function restoreVm(template: Template | RestoreSource, options: BootOptions = {}): Promise<VmHandle> {
  const from = 'meta' in template ? templateSource(template) : template;
  return startVm(from.image, { ...options, token: from.token }, from);
}

async function startVm(imageName: string, options: BootOptions, from: RestoreSource | undefined): Promise<VmHandle> {
  const t0 = Date.now();
  const progress = (stage: VmProgress['stage'], message: string) =>
    options.onProgress?.({ stage, message, elapsed: Math.round((Date.now() - t0) / 100) / 10 });
  const plan = await planBoot(options);
  progress('image', `${imageName} (${plan.init})`);
  const image = await findBootableImage(imageName, plan.init, options.imagesDir);

  const cleanup = new CleanupStack();
  try {
    const state = await createVmDir(imageName, plan, options, cleanup);
    if (from) state.restoredFrom = from.label;
    progress('disks', from ? `the disk saved with ${from.label}` : 'copy-on-write overlay over the image rootfs');
    const disks = await createDisks(state, image, options.token, from, cleanup);
    state.tokenDisk = disks.tokenDisk;

    const agentSocket = join(state.dir, 'agent.sock');
    const net = await guestNetwork(plan.net, state.id, agentSocket);
    Object.assign(state, { target: net.target, guestTarget: net.guestTarget, netns: net.netns });
    progress('network', net.describe);
    if (net.netns) {
      await createTapNamespace(net.netns);
      cleanup.defer('delete the network namespace', () => deleteNamespace(net.netns!));
    }

    const how = from ? `restoring ${from.label}` : 'booting';
    progress('qemu', `${how}: ${plan.machine}, ${plan.accel}, ${plan.cpus} vCPU, ${plan.memoryMiB} MiB; console ${state.consoleLog}`);
    const bootStart = Date.now();
    const { qemu, stopMethod } = launch(state, plan, image, disks, net, options, cleanup, from);
    if (net.netns) {
      const forwarder = await startForwarder(state, agentSocket);
      cleanup.defer('stop the forwarder', () => stopForwarder(state));
      if (options.detached) forwarder.unref();
    }
    await writeState(state);
    if (from) {
      const loadMs = await startLoaded(
        state.qmpSocket,
        from.stateFile,
        () => qemu.exitReason(),
        () => (state.guestRan = true),
      );
      progress('qemu', `state loaded in ${loadMs} ms; running`);
    }

    progress('wait', `waiting for Health on ${state.target}`);
    const health = await waitForAgent(state, qemu, {
      token: options.token,
      timeoutMs: options.readyTimeoutMs ?? 180_000,
      signal: options.signal,
      qemuLog: join(state.dir, 'qemu.log'),
    });
    state.bootToReadySeconds = Math.round((Date.now() - bootStart) / 100) / 10;
    await writeState(state);
    progress('ready', `agent ${health.version} answered after ${state.bootToReadySeconds} s; dial ${state.target}`);
    if (options.detached) qemu.process.unref();
    return vmHandle(state, health, { qemu, stopMethod }, options, cleanup);
  } catch (error) {
    await cleanup.run();
    throw error;
  }
}

function vmHandle(state: VmState, health: Health, { qemu, stopMethod }: Launched, options: BootOptions, cleanup: CleanupStack): VmHandle {
  return {
    id: state.id,
    target: state.target,
    guestTarget: state.guestTarget,
    netns: state.netns,
    consoleLog: state.consoleLog,
    pid: state.pid,
    bootToReadySeconds: state.bootToReadySeconds ?? 0,
    health,
    state,
    exited: qemu.exited,
    sysrq: async (key: string) => {
      if (!options.sysrq) throw new InvalidArgumentError('sysrq: boot the VM with { sysrq: true } to let the guest take SysRq keys');
      await sendSysrq(state.consoleSocket, key);
    },
    stop: async () => {
      await cleanup.run();
      await qemu.exited;
      return stopMethod();
    },
  };
}
