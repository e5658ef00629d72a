// Firecracker configuration for a runbox image: the JSON that `firecracker --config-file` takes
// (the same objects as its API's PUT /boot-source, /drives, /network-interfaces, /vsock and
// /machine-config). Firecracker cannot run on this project's machines (no usable KVM), so this is
// written and checked against Firecracker's API definition, not booted. See docs/firecracker.md.
import { mkdir, writeFile, chmod } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { InvalidArgumentError } from '../errors.js';
import type { InitSystem } from '../image/spec.js';
import { findBootableImage } from './image.js';
import { ipArg, joinBootArgs, TAP_NET } from './bootargs.js';
import { writeTokenDisk } from './disks.js';
import { runCommand } from '../local/command.js';

export interface FirecrackerConfig {
  'boot-source': { kernel_image_path: string; initrd_path: string; boot_args: string };
  drives: { drive_id: string; path_on_host: string; is_root_device: boolean; is_read_only: boolean }[];
  'network-interfaces': { iface_id: string; host_dev_name: string; guest_mac: string }[];
  vsock: { guest_cid: number; uds_path: string };
  'machine-config': { vcpu_count: number; mem_size_mib: number; smt: boolean };
}

export interface FirecrackerConfigOptions {
  /** ELF vmlinux: Firecracker on x86_64 boots an uncompressed ELF kernel, not a bzImage. */
  kernel: string;
  initrd: string;
  rootfs: string;
  /** The image's boot args (manifest bootArgs); the ip= and Firecracker basics are added here. */
  imageBootArgs: string;
  /** Host TAP device the guest's eth0 is attached to. */
  tap: string;
  /** Unix socket Firecracker creates for the hybrid vsock (dial vsock://<path>:5000). */
  vsockPath: string;
  tokenDisk?: string;
  cpus?: number;
  memoryMiB?: number;
  /** Default 3, the lowest CID a guest may have (0-2 are reserved). */
  guestCid?: number;
}

/**
 * Boot args Firecracker would otherwise default to include `nomodule`, which stops the initramfs
 * from loading the virtio/vsock modules Debian's cloud kernel needs: we always set our own.
 * `pci=off`: Firecracker has no PCI bus; `reboot=k panic=1`: a guest reboot or panic ends the VM.
 */
export const FIRECRACKER_BASE_BOOT_ARGS = 'console=ttyS0 reboot=k panic=1 pci=off';

/** Firecracker's convention: the guest MAC encodes the guest IPv4 (06:00 + 172.16.0.2 in hex). */
export function macForIp(ip: string): string {
  return ['06', '00', ...ip.split('.').map((o) => Number(o).toString(16).padStart(2, '0').toUpperCase())].join(':');
}

export function firecrackerConfig(o: FirecrackerConfigOptions): FirecrackerConfig {
  const cpus = o.cpus ?? 2;
  // Firecracker accepts 1-32 vCPUs; with SMT off (our setting) any count in that range.
  if (!Number.isInteger(cpus) || cpus < 1 || cpus > 32) throw new InvalidArgumentError(`cpus ${cpus}: Firecracker takes 1-32 vCPUs`);
  const memoryMiB = o.memoryMiB ?? 1024;
  if (!Number.isInteger(memoryMiB) || memoryMiB < 128) throw new InvalidArgumentError(`memoryMiB ${memoryMiB}: at least 128`);
  const guestCid = o.guestCid ?? 3;
  if (!Number.isInteger(guestCid) || guestCid < 3 || guestCid > 0xffffffff)
    throw new InvalidArgumentError(`guestCid ${guestCid}: at least 3`);
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(o.tap))
    throw new InvalidArgumentError(`tap ${JSON.stringify(o.tap)}: expected a network device name (at most 15 characters)`);
  const drives: FirecrackerConfig['drives'] = [
    { drive_id: 'rootfs', path_on_host: resolve(o.rootfs), is_root_device: true, is_read_only: false },
  ];
  if (o.tokenDisk) drives.push({ drive_id: 'token', path_on_host: resolve(o.tokenDisk), is_root_device: false, is_read_only: true });
  return {
    'boot-source': {
      kernel_image_path: resolve(o.kernel),
      initrd_path: resolve(o.initrd),
      boot_args: joinBootArgs(FIRECRACKER_BASE_BOOT_ARGS, o.imageBootArgs, ipArg(TAP_NET.guestIp, TAP_NET.hostIp, TAP_NET.netmask)),
    },
    drives,
    'network-interfaces': [{ iface_id: 'eth0', host_dev_name: o.tap, guest_mac: macForIp(TAP_NET.guestIp) }],
    vsock: { guest_cid: guestCid, uds_path: resolve(o.vsockPath) },
    'machine-config': { vcpu_count: cpus, mem_size_mib: memoryMiB, smt: false },
  };
}

export interface WriteFirecrackerOptions {
  tap: string;
  vsockPath: string;
  outDir: string;
  init?: InitSystem;
  imagesDir?: string;
  token?: string;
  cpus?: number;
  memoryMiB?: number;
}

export interface WrittenFirecrackerConfig {
  configFile: string;
  config: FirecrackerConfig;
  /** The VM's own rootfs (a sparse copy: Firecracker writes to its root drive, the image stays pristine). */
  rootfs: string;
}

/** Writes <outDir>/firecracker.json, a sparse copy of the rootfs and (with a token) token.img. */
export async function writeFirecrackerConfig(imageName: string, o: WriteFirecrackerOptions): Promise<WrittenFirecrackerConfig> {
  const image = await findBootableImage(imageName, o.init ?? 'systemd', o.imagesDir);
  const outDir = resolve(o.outDir);
  await mkdir(outDir, { recursive: true });
  const rootfs = join(outDir, 'rootfs.ext4');
  await runCommand(['cp', '--sparse=always', '--reflink=auto', image.rootfs, rootfs], { timeoutMs: 300_000 });
  await chmod(rootfs, 0o600);
  let tokenDisk: string | undefined;
  if (o.token !== undefined) {
    tokenDisk = join(outDir, 'token.img');
    await writeTokenDisk(tokenDisk, o.token);
  }
  const config = firecrackerConfig({
    kernel: image.vmlinux,
    initrd: image.initrd,
    rootfs,
    imageBootArgs: image.entry.bootArgs,
    tap: o.tap,
    vsockPath: o.vsockPath,
    tokenDisk,
    cpus: o.cpus,
    memoryMiB: o.memoryMiB,
  });
  const configFile = join(outDir, 'firecracker.json');
  await writeFile(configFile, JSON.stringify(config, null, 2) + '\n');
  return { configFile, config, rootfs };
}
