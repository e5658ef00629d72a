// The Firecracker config runbox writes, checked against Firecracker's own API definition (Firecracker
// cannot run on these machines, see docs/firecracker.md). The facts below were read from
// firecracker-microvm/firecracker, src/firecracker/swagger/firecracker.yaml (API 1.x), section
// `definitions`, and are recorded here in our own words: for each object, the fields it knows
// (`properties`) and the ones it requires (`required`). Firecracker rejects unknown fields, so a
// config with a misspelt key would not boot. The top-level keys are those of `FullVmConfiguration`,
// the shape `firecracker --config-file` reads.
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { firecrackerConfig, macForIp, type FirecrackerConfig } from '../../host/vm/firecracker.js';
import { writeTokenDisk } from '../../host/vm/disks.js';

interface Definition {
  properties: string[];
  required: string[];
}

// swagger `definitions` (firecracker.yaml), only the objects a runbox config uses.
const SWAGGER: Record<string, Definition> = {
  // definitions.FullVmConfiguration: no required fields.
  FullVmConfiguration: {
    properties: [
      'balloon',
      'drives',
      'boot-source',
      'cpu-config',
      'logger',
      'machine-config',
      'metrics',
      'memory-hotplug',
      'mmds-config',
      'network-interfaces',
      'pmem',
      'vsock',
      'entropy',
    ],
    required: [],
  },
  // definitions.BootSource
  BootSource: { properties: ['boot_args', 'initrd_path', 'kernel_image_path'], required: ['kernel_image_path'] },
  // definitions.Drive (path_on_host and is_read_only are described as required for virtio-block)
  Drive: {
    properties: [
      'drive_id',
      'partuuid',
      'is_root_device',
      'cache_type',
      'is_read_only',
      'path_on_host',
      'rate_limiter',
      'io_engine',
      'socket',
    ],
    required: ['drive_id', 'is_root_device', /* virtio-block: */ 'path_on_host', 'is_read_only'],
  },
  // definitions.NetworkInterface
  NetworkInterface: {
    properties: ['guest_mac', 'host_dev_name', 'iface_id', 'mtu', 'rx_rate_limiter', 'tx_rate_limiter'],
    required: ['host_dev_name', 'iface_id'],
  },
  // definitions.Vsock (guest_cid: minimum 3; vsock_id deprecated)
  Vsock: { properties: ['guest_cid', 'uds_path', 'vsock_id'], required: ['guest_cid', 'uds_path'] },
  // definitions.MachineConfiguration (vcpu_count: minimum 1, maximum 32)
  MachineConfiguration: {
    properties: ['cpu_template', 'smt', 'mem_size_mib', 'track_dirty_pages', 'vcpu_count', 'huge_pages'],
    required: ['mem_size_mib', 'vcpu_count'],
  },
};

function conforms(object: object, definition: Definition, where: string): void {
  for (const key of Object.keys(object)) expect(definition.properties, `${where}: unknown field ${key}`).toContain(key);
  for (const key of definition.required) expect(Object.keys(object), `${where}: missing required ${key}`).toContain(key);
}

function checkAgainstSwagger(config: FirecrackerConfig): void {
  conforms(config, SWAGGER.FullVmConfiguration!, 'config');
  conforms(config['boot-source'], SWAGGER.BootSource!, 'boot-source');
  for (const drive of config.drives) conforms(drive, SWAGGER.Drive!, `drives[${drive.drive_id}]`);
  for (const nic of config['network-interfaces']) conforms(nic, SWAGGER.NetworkInterface!, `network-interfaces[${nic.iface_id}]`);
  conforms(config.vsock, SWAGGER.Vsock!, 'vsock');
  conforms(config['machine-config'], SWAGGER.MachineConfiguration!, 'machine-config');
  // Types the definitions give: integers for counts and CIDs, booleans for flags, strings for paths.
  expect(Number.isInteger(config.vsock.guest_cid) && config.vsock.guest_cid >= 3).toBe(true);
  const { vcpu_count, mem_size_mib } = config['machine-config'];
  expect(Number.isInteger(vcpu_count) && vcpu_count >= 1 && vcpu_count <= 32).toBe(true);
  expect(Number.isInteger(mem_size_mib)).toBe(true);
  // Exactly one root device (Firecracker refuses a second one).
  expect(config.drives.filter((d) => d.is_root_device)).toHaveLength(1);
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'runbox-fc-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const base = {
  kernel: path.join(dir, 'vmlinux'),
  initrd: path.join(dir, 'initrd.img'),
  rootfs: path.join(dir, 'rootfs.ext4'),
  // What the image builder puts in the manifest's bootArgs.
  imageBootArgs: 'root=/dev/vda rw panic=-1 reboot=k i8042.noaux i8042.nokbd quiet',
  tap: 'fc-tap0',
  vsockPath: path.join(dir, 'v.sock'),
};

describe('firecrackerConfig', () => {
  it("uses only fields Firecracker's API defines, and all it requires", () => {
    checkAgainstSwagger(firecrackerConfig(base));
    checkAgainstSwagger(firecrackerConfig({ ...base, tokenDisk: path.join(dir, 'token.img'), cpus: 4, memoryMiB: 2048, guestCid: 7 }));
  });

  it('sets its own boot args: no nomodule, serial console, no PCI, the TAP network', () => {
    const args = firecrackerConfig(base)['boot-source'].boot_args.split(' ');
    // Firecracker's default command line carries `nomodule`, which would stop the initramfs from
    // loading virtio_mmio/virtio_blk/virtio_net/vsock (modules in Debian's cloud kernel).
    expect(args.some((a) => a.startsWith('nomodule'))).toBe(false);
    expect(args).toEqual(expect.arrayContaining(['console=ttyS0', 'reboot=k', 'pci=off', 'root=/dev/vda', 'rw']));
    expect(args).toContain('ip=172.16.0.2::172.16.0.1:255.255.255.252::eth0:off');
    // Each key once: the image's panic=-1 replaced the base panic=1.
    const keys = args.map((a) => a.split('=')[0]);
    expect(new Set(keys).size).toBe(keys.length);
    expect(args).toContain('panic=-1');
  });

  it('wires the TAP, the vsock socket and the drives', () => {
    const config = firecrackerConfig({ ...base, tokenDisk: path.join(dir, 'token.img') });
    expect(config['network-interfaces']).toEqual([{ iface_id: 'eth0', host_dev_name: 'fc-tap0', guest_mac: '06:00:AC:10:00:02' }]);
    expect(config.vsock).toEqual({ guest_cid: 3, uds_path: base.vsockPath });
    expect(config.drives).toEqual([
      { drive_id: 'rootfs', path_on_host: base.rootfs, is_root_device: true, is_read_only: false },
      { drive_id: 'token', path_on_host: path.join(dir, 'token.img'), is_root_device: false, is_read_only: true },
    ]);
    expect(config['machine-config']).toEqual({ vcpu_count: 2, mem_size_mib: 1024, smt: false });
  });

  it('makes paths absolute (Firecracker resolves them against its own cwd)', () => {
    const config = firecrackerConfig({ ...base, kernel: 'vmlinux', vsockPath: 'v.sock' });
    expect(path.isAbsolute(config['boot-source'].kernel_image_path)).toBe(true);
    expect(path.isAbsolute(config.vsock.uds_path)).toBe(true);
  });

  it('names what is wrong with bad input', () => {
    expect(() => firecrackerConfig({ ...base, cpus: 33 })).toThrow(/cpus 33: Firecracker takes 1-32 vCPUs/);
    expect(() => firecrackerConfig({ ...base, memoryMiB: 64 })).toThrow(/memoryMiB 64: at least 128/);
    expect(() => firecrackerConfig({ ...base, guestCid: 2 })).toThrow(/guestCid 2: at least 3/);
    expect(() => firecrackerConfig({ ...base, tap: 'tap0; rm -rf /' })).toThrow(/tap .*network device name/);
  });

  it("derives the guest MAC from the guest IP (Firecracker's getting-started convention)", () => {
    expect(macForIp('172.16.0.2')).toBe('06:00:AC:10:00:02');
  });
});

describe('token disk', () => {
  it('is the token padded with NULs to 4 KiB, mode 0600', async () => {
    const file = path.join(dir, 'token.img');
    await writeTokenDisk(file, 'abc123');
    const bytes = readFileSync(file);
    expect(bytes.length).toBe(4096);
    expect(bytes.subarray(0, 6).toString()).toBe('abc123');
    expect(bytes.subarray(6).every((b) => b === 0)).toBe(true);
  });

  it('refuses tokens the agent would read differently', async () => {
    const file = path.join(dir, 'bad.img');
    await expect(writeTokenDisk(file, '')).rejects.toThrow(/must not be empty/);
    await expect(writeTokenDisk(file, 'a b')).rejects.toThrow(/whitespace/);
    writeFileSync(file, '');
    await expect(writeTokenDisk(file, 'x'.repeat(5000))).rejects.toThrow(/at most 4095/);
  });
});
