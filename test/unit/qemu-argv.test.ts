// The QEMU command line of a runbox VM (host/vm/qemu.ts): what boot.ts decides, spelled as argv.
// One full command line is pinned (order matters: the root disk must be /dev/vda), then each
// choice is checked by the options it changes.
import { describe, expect, it } from 'vitest';
import { qemuArgv, type QemuConfig } from '../../host/vm/qemu.js';

const BASE: QemuConfig = {
  machine: 'microvm',
  accel: 'tcg',
  cpus: 2,
  memoryMiB: 1024,
  kernel: '/img/vmlinuz',
  initrd: '/img/initrd.img',
  append: 'console=ttyS0 root=/dev/vda rw quiet',
  rootDisk: { path: '/vm/root.qcow2', format: 'qcow2' },
  net: { kind: 'user', hostPort: 40000, guestIp: '10.0.2.15', guestPort: 5000 },
  consoleLog: '/vm/console.log',
  consoleSocket: '/vm/console.sock',
  qmpSocket: '/vm/qmp.sock',
};

const argv = (overrides: Partial<QemuConfig> = {}) => qemuArgv({ ...BASE, ...overrides });

/** Every value given to `flag`, in order. */
function values(args: string[], flag: string): string[] {
  return args.flatMap((arg, i) => (arg === flag ? [args[i + 1]!] : []));
}

describe('qemuArgv', () => {
  it('spells out a microvm TCG guest with user-mode networking', () => {
    expect(argv()).toEqual([
      'qemu-system-x86_64',
      '-M',
      'microvm,x-option-roms=off,rtc=on,memory-backend=ram0',
      '-accel',
      'tcg',
      '-cpu',
      'max',
      '-smp',
      '2',
      '-m',
      '1024M',
      '-object',
      'memory-backend-ram,id=ram0,size=1024M',
      '-nodefaults',
      '-no-user-config',
      '-nographic',
      '-no-reboot',
      '-kernel',
      '/img/vmlinuz',
      '-initrd',
      '/img/initrd.img',
      '-append',
      'console=ttyS0 root=/dev/vda rw quiet',
      '-chardev',
      'socket,id=console,path=/vm/console.sock,server=on,wait=off,telnet=on,logfile=/vm/console.log,logappend=on',
      '-serial',
      'chardev:console',
      '-qmp',
      'unix:/vm/qmp.sock,server=on,wait=off',
      '-drive',
      'id=root,file=/vm/root.qcow2,format=qcow2,if=none,cache=unsafe,discard=unmap',
      '-device',
      'virtio-blk-device,drive=root',
      '-netdev',
      'user,id=net0,restrict=on,hostfwd=tcp:127.0.0.1:40000-10.0.2.15:5000',
      '-device',
      'virtio-net-device,netdev=net0',
    ]);
  });

  it.each([
    [
      'microvm',
      'microvm,x-option-roms=off,rtc=on,memory-backend=ram0',
      ['virtio-blk-device,drive=root', 'virtio-blk-device,drive=token', 'virtio-net-device,netdev=net0', 'vhost-vsock-device,guest-cid=7'],
    ],
    [
      'q35',
      'q35,memory-backend=ram0',
      ['virtio-blk-pci,drive=root', 'virtio-blk-pci,drive=token', 'virtio-net-pci,netdev=net0', 'vhost-vsock-pci,guest-cid=7'],
    ],
  ] as const)('machine %s: -M %s and virtio devices on its bus', (machine, m, devices) => {
    const args = argv({ machine, tokenDisk: '/vm/token.img', vsockCid: 7 });
    expect(values(args, '-M')).toEqual([m]);
    expect(values(args, '-device')).toEqual(devices);
  });

  it.each([
    ['tcg', 'max'],
    ['kvm', 'host'],
  ] as const)('accel %s → -cpu %s', (accel, cpu) => {
    const args = argv({ accel });
    expect(values(args, '-accel')).toEqual([accel]);
    expect(values(args, '-cpu')).toEqual([cpu]);
  });

  it.each([
    [{ cpus: 1, memoryMiB: 128 }, '1', '128M'],
    [{ cpus: 8, memoryMiB: 16384 }, '8', '16384M'],
  ])('%j → -smp %s -m %s', (overrides, smp, m) => {
    const args = argv(overrides);
    expect(values(args, '-smp')).toEqual([smp]);
    expect(values(args, '-m')).toEqual([m]);
  });

  it.each<[string, QemuConfig['memoryFile'], string]>([
    ['anonymous RAM', undefined, 'memory-backend-ram,id=ram0,size=1024M'],
    [
      "a template's boot: RAM is the file, shared",
      { path: '/t/mem.ram', share: true },
      'memory-backend-file,id=ram0,size=1024M,mem-path=/t/mem.ram,share=on',
    ],
    [
      "a clone: the template's file, private (copy on write)",
      { path: '/t/a,b/mem.ram', share: false },
      'memory-backend-file,id=ram0,size=1024M,mem-path=/t/a,,b/mem.ram,share=off',
    ],
  ])('%s', (_name, memoryFile, backend) => {
    const args = argv({ memoryFile });
    expect(values(args, '-object')).toEqual([backend]);
  });

  it('runs the given QEMU binary', () => {
    expect(argv({ qemu: '/opt/qemu/bin/qemu-system-x86_64' })[0]).toBe('/opt/qemu/bin/qemu-system-x86_64');
  });

  it('passes the kernel command line as one argument, whatever it holds', () => {
    const append = 'console=ttyS0 ip=10.0.2.15::10.0.2.2:255.255.255.0::eth0:off dyndbg="file x.c +p"';
    expect(values(argv({ append }), '-append')).toEqual([append]);
  });

  it.each([
    ['qcow2', 'id=root,file=/vm/root.qcow2,format=qcow2,if=none,cache=unsafe,discard=unmap'],
    ['raw', 'id=root,file=/vm/root.qcow2,format=raw,if=none,cache=unsafe,discard=unmap'],
  ] as const)('a %s root disk', (format, drive) => {
    expect(values(argv({ rootDisk: { path: '/vm/root.qcow2', format } }), '-drive')).toEqual([drive]);
  });

  it.each([
    ['no token disk', undefined, ['id=root']],
    ['an empty token path (no disk)', '', ['id=root']],
    [
      'a token disk, after the root disk and read-only',
      '/vm/token.img',
      ['id=root', 'id=token,file=/vm/token.img,format=raw,if=none,readonly=on'],
    ],
  ])('%s', (_name, tokenDisk, drives) => {
    const got = values(argv({ tokenDisk }), '-drive');
    expect(got.length).toBe(drives.length);
    got.forEach((drive, i) => expect(drive.startsWith(drives[i]!)).toBe(true));
  });

  it.each<[string, QemuConfig['net'], string]>([
    [
      'user-mode: only the agent port forwarded, nothing out',
      { kind: 'user', hostPort: 1, guestIp: '10.0.2.15', guestPort: 65535 },
      'user,id=net0,restrict=on,hostfwd=tcp:127.0.0.1:1-10.0.2.15:65535',
    ],
    ['tap: no helper scripts', { kind: 'tap', ifname: 'tap0' }, 'tap,id=net0,ifname=tap0,script=no,downscript=no'],
  ])('%s', (_name, net, netdev) => {
    const args = argv({ net });
    expect(values(args, '-netdev')).toEqual([netdev]);
    expect(values(args, '-device')).toContain('virtio-net-device,netdev=net0');
  });

  it.each([
    ['no vsock', undefined, []],
    ['CID 3', 3, ['vhost-vsock-device,guest-cid=3']],
    ['the largest CID', 0xfffffffe, ['vhost-vsock-device,guest-cid=4294967294']],
  ])('%s', (_name, vsockCid, devices) => {
    expect(values(argv({ vsockCid }), '-device').filter((d) => d.startsWith('vhost-vsock'))).toEqual(devices);
  });
});

describe('qemuArgv with a comma in a path', () => {
  // -drive, -chardev and -qmp values are QEMU option lists: a ',' in a value must be doubled or
  // QEMU reads the rest as another option. Paths live under $RUNBOX_HOME, which may hold one.
  const dir = '/home/u/a,b/vms/x';
  const args = argv({
    kernel: `${dir}/vmlinuz`,
    initrd: `${dir}/initrd.img`,
    rootDisk: { path: `${dir}/root.qcow2`, format: 'qcow2' },
    tokenDisk: `${dir}/token.img`,
    consoleLog: `${dir}/console.log`,
    consoleSocket: `${dir}/console.sock`,
    qmpSocket: `${dir}/qmp.sock`,
  });
  const escaped = '/home/u/a,,b/vms/x';

  it.each([
    [
      '-drive',
      [
        `id=root,file=${escaped}/root.qcow2,format=qcow2,if=none,cache=unsafe,discard=unmap`,
        `id=token,file=${escaped}/token.img,format=raw,if=none,readonly=on`,
      ],
    ],
    [
      '-chardev',
      [`socket,id=console,path=${escaped}/console.sock,server=on,wait=off,telnet=on,logfile=${escaped}/console.log,logappend=on`],
    ],
    ['-qmp', [`unix:${escaped}/qmp.sock,server=on,wait=off`]],
  ])('%s doubles it', (flag, expected) => {
    expect(values(args, flag)).toEqual(expected);
  });

  it.each([
    ['-kernel', [`${dir}/vmlinuz`]],
    ['-initrd', [`${dir}/initrd.img`]],
  ])('%s takes a plain path and keeps it', (flag, expected) => {
    expect(values(args, flag)).toEqual(expected);
  });
});
