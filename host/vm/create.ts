// createSandbox: a ready Sandbox on a local VM in about the time a restore takes. The first
// create of an image (or after its content, QEMU or the machine's shape changed) boots it cold
// once and saves a template snapshot when the agent is ready; every later create restores
// from it and claims the clone: a token of its own, host entropy for its RNG and the host's
// clock, before anything else is sent to it (docs/lifecycle.md).
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Sandbox } from '../sandbox.js';
import { Connection } from '../transport/connection.js';
import { parseTarget } from '../transport/target.js';
import { bootVm, restoreVm, type BootOptions, type VmHandle, type VmProgress } from './boot.js';
import { planBoot } from './boot-plan.js';
import { findBootableImage } from './image.js';
import {
  captureTemplate,
  discardTemplateWork,
  findTemplate,
  startTemplateWork,
  templateKey,
  type Template,
  type TemplateShape,
} from './template.js';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { sandboxTokenFile } from './state.js';
import { claim, type ClaimResult } from '../lifecycle/index.js';
import { pauseVm, readPaused, removePaused } from './pause.js';
import { forkVm } from './fork.js';
import { SnapshotError } from './migrate.js';
import { machineBootOptions, readMachine, resolveMachine, type ResolveOptions } from '../share/machine.js';
import { InvalidArgumentError } from '../errors.js';
import type { SandboxPool } from './pool.js';

export interface CreateOptions extends Pick<
  BootOptions,
  | 'net'
  | 'memoryMiB'
  | 'cpus'
  | 'init'
  | 'accel'
  | 'machine'
  | 'imagesDir'
  | 'isolation'
  | 'readyTimeoutMs'
  | 'onProgress'
  | 'signal'
  | 'detached'
> {
  /** The sandbox's token (default: 32 random bytes, base64url). */
  token?: string;
  /**
   * When the image is a machine package (a path ending in .json): how to fetch its assets
   * from the package's repos when they are not in the image directory.
   */
  fetch?: Pick<ResolveOptions, 'credentials' | 'allowHttp' | 'onProgress' | 'onStep'>;
  /**
   * A warm pool of the same image: a pooled sandbox is handed out at once, or one is restored
   * with the pool's options when the pool is empty. The pool decides the shape: options that
   * would change it (net, memory, cpus, init, ...) and `token` are refused with it.
   */
  pool?: SandboxPool;
}

/** What a pool decides for its sandboxes: createSandbox refuses them beside `pool`. */
const POOL_DECIDES = [
  'net',
  'memoryMiB',
  'cpus',
  'init',
  'accel',
  'machine',
  'imagesDir',
  'isolation',
  'detached',
  'token',
  'fetch',
] as const satisfies readonly (keyof CreateOptions)[];

/** createSandbox(image, { pool }): the pool's sandbox, if it holds `image` and nothing in `options` asks for another shape. */
function fromPool(image: string, pool: SandboxPool, options: CreateOptions): Promise<LocalSandbox> {
  const call = `createSandbox(${JSON.stringify(image)}, { pool })`;
  if (pool.image !== image) {
    throw new InvalidArgumentError(`${call}: the pool holds ${pool.image} sandboxes; pass a pool of ${image}, or no pool`, {
      reason: 'POOL_MISMATCH',
      metadata: { option: 'pool', image, poolImage: pool.image },
    });
  }
  const decided = POOL_DECIDES.filter((key) => options[key] !== undefined);
  if (decided.length > 0) {
    throw new InvalidArgumentError(
      `${call}: ${decided.join(', ')} are the pool's to decide (SandboxPool.start's options); leave them out`,
      {
        reason: 'POOL_MISMATCH',
        metadata: { option: decided.join(',') },
      },
    );
  }
  const { signal, onProgress, readyTimeoutMs } = options;
  return pool.takeOrRestore({ signal, onProgress, readyTimeoutMs });
}

/** A Sandbox on a VM this process started: `kill()` ends the VM and removes everything it made. */
export class LocalSandbox extends Sandbox {
  readonly vm: VmHandle;
  /** The token the sandbox answers to (it was claimed with it). */
  readonly token: string;
  /** What the claim did in the guest (token, entropy, clock). */
  readonly claim: ClaimResult;
  /** The template it was restored from, or the paused id it was resumed from. */
  readonly templateKey: string;

  readonly #imagesDir: string | undefined;

  /** Not public: `createSandbox`, `resumeSandbox` and `fork` make a LocalSandbox. */
  constructor(...internal: [never, never, never, never, never, never]);
  /** @internal Made by createSandbox, resumeSandbox and fork. */
  constructor(vm: VmHandle, connection: Connection, token: string, claim: ClaimResult, key: string, imagesDir: string | undefined);
  constructor(vm: VmHandle, connection: Connection, token: string, claim: ClaimResult, key: string, imagesDir: string | undefined) {
    super(parseTarget(vm.target), connection);
    this.vm = vm;
    this.token = token;
    this.claim = claim;
    this.templateKey = key;
    this.#imagesDir = imagesDir;
  }

  /**
   * n new sandboxes that each go on from this one's state at this moment: files, running
   * processes, memory. This sandbox is stopped while its state is saved (calls in flight
   * wait, then go on) and runs on afterwards. Each child is claimed: a token, entropy and a
   * clock of its own. If any child fails, the others are ended and the error is thrown.
   * Between a child's start and its claim (well under a second) its processes run with the
   * parent's RNG state: do not fork in the middle of drawing secrets.
   */
  async fork(n: number, options: { signal?: AbortSignal; detached?: boolean } = {}): Promise<LocalSandbox[]> {
    return forkSandbox(this.vm, this.token, n, { ...options, imagesDir: this.#imagesDir, key: this.templateKey });
  }

  /** Closes the channel, ends QEMU, removes the VM's overlay, network and state. Idempotent. */
  async kill(): Promise<void> {
    await this.close();
    await this.vm.stop();
  }

  /**
   * Saves the whole machine (memory, devices, disk) and ends QEMU, freeing its RAM; returns
   * the id `resumeSandbox` takes. The channel is closed first: runs in flight end with
   * AbortError (their processes are killed, as when any client goes away); shell sessions
   * live on, detached, and can be re-attached after the resume within their grace period
   * (guest time, which stands still while paused). This object is closed afterwards.
   * @throws SnapshotError (QEMU failed to save, disk full): the VM then runs on as it was,
   *   reachable with Sandbox.connect(vm.target, { token }).
   */
  async pause(): Promise<string> {
    await this.close();
    return pauseVm(this.vm, this.token);
  }
}

/** The shape a template must match: everything of the options that changes the machine or its agent. */
async function shapeOf(options: CreateOptions): Promise<TemplateShape> {
  const plan = await planBoot(options);
  return {
    machine: plan.machine,
    accel: plan.accel,
    cpus: plan.cpus,
    memoryMiB: plan.memoryMiB,
    init: plan.init,
    net: plan.net,
    isolation: options.isolation ?? 'shared',
  };
}

/**
 * Constant programs that take each interpreter through a first run, so the template is saved
 * with the agent's spawn path and the interpreter's files in the guest's page cache: a
 * clone's first run then reads nothing from its disk. Compiled languages are left alone (a
 * compile would only fill the compile cache).
 */
const WARM_UP: Record<string, string> = { python: 'pass', bash: ':', sh: ':', javascript: ';' };

async function warmUp(vm: VmHandle, token: string): Promise<void> {
  const sandbox = await Sandbox.connect(vm.target, { token });
  try {
    for (const { name, compiled } of await sandbox.languages()) {
      const source = WARM_UP[name];
      if (!compiled && source !== undefined) await sandbox.runCode(name, source, { timeoutMs: 120_000 });
    }
  } finally {
    await sandbox.close();
  }
}

/**
 * Boots `image` cold with a fresh template token and its RAM in the template's file, warms it
 * up and saves it as the template for `key`. Whatever fails, the VM is ended and nothing of
 * the template is kept.
 */
async function makeTemplate(image: string, options: CreateOptions, key: string, shape: TemplateShape): Promise<Template> {
  const token = randomBytes(32).toString('base64url');
  const { token: _ignored, detached: _template, ...boot } = options;
  const work = await startTemplateWork(key);
  let vm: VmHandle | undefined;
  try {
    vm = await bootVm(image, { ...boot, token, templateMemoryFile: work.memoryFile });
    await warmUp(vm, token);
    options.onProgress?.({ stage: 'ready', message: `saving template ${key}`, elapsed: 0 });
    return await captureTemplate(work, key, image, shape, token, {
      qmpSocket: vm.state.qmpSocket,
      overlay: join(vm.state.dir, 'root.qcow2'),
      tokenDisk: join(vm.state.dir, 'token.img'),
      append: vm.state.append!,
      bootToReadySeconds: vm.bootToReadySeconds,
      stop: () => vm!.stop(),
    });
  } finally {
    await vm?.stop();
    await discardTemplateWork(work);
  }
}

/**
 * A connected, ready, claimed Sandbox on a new local VM of `image`, restored from its
 * template snapshot (made first, by one cold boot, when there is none for this shape).
 * `image` is an image name, or the path of a machine package (`runbox machine export`,
 * docs/sharing.md): its assets are found by content id or fetched from its repos, verified,
 * and its machine shape is used where the options do not set one.
 * With `options.pool` (a SandboxPool of `image`) a pooled sandbox is handed out at once, or
 * one restored with the pool's options when none is ready.
 * @throws NotFoundError (image not built; a package no repo can resolve), InvalidArgumentError (a bad option; POOL_MISMATCH:
 *   a pool of another image, or options the pool decides), VmBootError,
 *   SnapshotError, AbortError (options.signal).
 */
export async function createSandbox(image: string, options: CreateOptions = {}): Promise<LocalSandbox> {
  if (options.pool) return fromPool(image, options.pool, options);
  if (image.endsWith('.json')) {
    // A machine package: its image made present by content id, its shape under the options given.
    const { fetch, ...rest } = options;
    const m = await resolveMachine(await readMachine(image), { imagesDir: options.imagesDir, ...fetch });
    return createSandbox(m.name, machineBootOptions(m, rest));
  }
  const shape = await shapeOf(options);
  const bootable = await findBootableImage(image, shape.init, options.imagesDir);
  const key = await templateKey(bootable, shape);
  const note = (message: string) => options.onProgress?.({ stage: 'image', message, elapsed: 0 } satisfies VmProgress);
  let template = await findTemplate(key, note);
  if (!template) {
    note(`no template for ${image} in this shape yet: booting cold once to make ${key}`);
    template = await makeTemplate(image, options, key, shape);
  }
  const { token: wanted, ...boot } = options;
  const vm = await restoreVm(template, boot);
  return claimed(vm, template.meta.token, wanted, key, options.imagesDir, options.signal);
}

/** Claims a restored VM with a token of its own (`wanted`, or a random one) and wraps it; ends the VM if that fails. */
async function claimed(
  vm: VmHandle,
  current: string,
  wanted: string | undefined,
  key: string,
  imagesDir: string | undefined,
  signal: AbortSignal | undefined,
): Promise<LocalSandbox> {
  let connection: Connection | undefined;
  try {
    const token = wanted ?? randomBytes(32).toString('base64url');
    connection = await Connection.open(parseTarget(vm.target), { token: current });
    const result = await claim(connection, { token }, { signal });
    // Kept beside the VM's state (0700, root), so a later process (runbox vm pause, fork) can reach it.
    await writeFile(sandboxTokenFile(vm.state), token, { mode: 0o600 });
    return new LocalSandbox(vm, connection, token, result, key, imagesDir);
  } catch (error) {
    await connection?.close();
    await vm.stop();
    throw error;
  }
}

/**
 * Brings a paused sandbox back (`await sb.pause()` gave the id): the same machine, its
 * processes where they were, claimed again with a new token, entropy and clock. A paused
 * state resumes once.
 * @throws NotFoundError (no such paused sandbox), SnapshotError (its state is damaged; or the
 *   resume failed after the guest ran, which consumes it), VmBootError.
 */
export async function resumeSandbox(
  id: string,
  options: Pick<CreateOptions, 'token' | 'imagesDir' | 'readyTimeoutMs' | 'onProgress' | 'signal' | 'detached'> = {},
): Promise<LocalSandbox> {
  const { meta, source } = await readPaused(id);
  const { init, net, machine, accel, cpus, memoryMiB } = meta.vm;
  const { token: wanted, ...boot } = options;
  let vm: VmHandle;
  try {
    vm = await restoreVm(source, { ...boot, init, net, machine, accel, cpus, memoryMiB });
  } catch (error) {
    if (existsSync(source.disk)) throw error; // nothing ran: the paused state is intact, try again
    await removePaused(id);
    throw new SnapshotError(
      `resuming ${id} failed after the guest had run, so its saved state no longer matches its disk and was removed: ${(error as Error).message}`,
      { cause: error },
    );
  }
  await removePaused(id);
  return claimed(vm, meta.token, wanted, id, options.imagesDir, options.signal);
}

/**
 * Forks the running sandbox `parent` (its VM handle, or its state read back by another
 * process, as `runbox vm fork` does) whose current token is `token`: see LocalSandbox.fork.
 */
export async function forkSandbox(
  parent: Pick<VmHandle, 'id' | 'state'>,
  token: string,
  n: number,
  options: { signal?: AbortSignal; detached?: boolean; imagesDir?: string; key?: string } = {},
): Promise<LocalSandbox[]> {
  const { init, net, machine, accel, cpus, memoryMiB } = parent.state;
  const children: LocalSandbox[] = [];
  try {
    await forkVm(parent, token, n, async (source) => {
      const vm = await restoreVm(source, {
        init,
        net,
        machine,
        accel,
        cpus,
        memoryMiB,
        imagesDir: options.imagesDir,
        signal: options.signal,
        detached: options.detached,
      });
      children.push(await claimed(vm, token, undefined, options.key ?? `fork of ${parent.id}`, options.imagesDir, options.signal));
    });
  } catch (error) {
    await Promise.all(children.map((child) => child.kill()));
    throw error;
  }
  return children;
}
