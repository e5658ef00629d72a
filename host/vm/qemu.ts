// The QEMU command line of a runbox VM. Pure: boot.ts decides, this only spells it out.
//
// `-M microvm` is QEMU's Firecracker-like machine: no PCI, no firmware tables to speak of, virtio
// devices on virtio-mmio. `q35` (virtio-pci) is the fallback for a QEMU without microvm.

export type Machine = 'microvm' | 'q35';
export type Accel = 'tcg' | 'kvm';

export interface QemuNetUser {
  kind: 'user';
  /** 127.0.0.1:<hostPort> on the host forwards to <guestIp>:<guestPort>. */
  hostPort: number;
  guestIp: string;
  guestPort: number;
}
export interface QemuNetTap {
  kind: 'tap';
  ifname: string;
}

export interface QemuConfig {
  qemu?: string;
  machine: Machine;
  accel: Accel;
  cpus: number;
  memoryMiB: number;
  kernel: string;
  initrd: string;
  append: string;
  /** The root disk QEMU writes to (a qcow2 overlay over the pristine image). */
  rootDisk: { path: string; format: 'qcow2' | 'raw' };
  /** Optional second disk (the token), attached read-only. */
  tokenDisk?: string;
  net: QemuNetUser | QemuNetTap;
  consoleLog: string;
  /** The serial console as a telnet-protocol Unix socket (input, and BREAK for SysRq); output also goes to consoleLog. */
  consoleSocket: string;
  qmpSocket: string;
  /** A vhost-vsock device with this guest CID (needs /dev/vhost-vsock on the host). */
  vsockCid?: number;
  /** Wait for a saved state to load (`-incoming defer`; migrate.ts's startLoaded sends it over QMP) instead of booting. */
  incoming?: boolean;
  /**
   * Guest RAM in a file instead of anonymous memory. share: the guest's RAM is the file (a
   * template's boot: saving it needs only the devices); private: the file's pages copied on
   * write (a clone of that template: its untouched pages stay shared in the page cache).
   */
  memoryFile?: { path: string; share: boolean };
}

/** A value inside a QEMU option list (-drive, -chardev, -qmp): a literal ',' is written ',,'. */
const opt = (value: string) => value.replaceAll(',', ',,');

export function qemuArgv(c: QemuConfig): string[] {
  const pci = c.machine === 'q35';
  const dev = (kind: 'blk' | 'net' | 'vsock') =>
    pci
      ? { blk: 'virtio-blk-pci', net: 'virtio-net-pci', vsock: 'vhost-vsock-pci' }[kind]
      : { blk: 'virtio-blk-device', net: 'virtio-net-device', vsock: 'vhost-vsock-device' }[kind];
  const machine =
    c.machine === 'microvm'
      ? // No option ROMs (nothing to run), but the RTC: the guest needs the wall-clock time at boot.
        'microvm,x-option-roms=off,rtc=on,memory-backend=ram0'
      : 'q35,memory-backend=ram0';
  const size = `size=${c.memoryMiB}M`;
  const ram = c.memoryFile
    ? `memory-backend-file,id=ram0,${size},mem-path=${opt(c.memoryFile.path)},share=${c.memoryFile.share ? 'on' : 'off'}`
    : `memory-backend-ram,id=ram0,${size}`;
  const argv = [
    c.qemu ?? 'qemu-system-x86_64',
    '-M',
    machine,
    '-accel',
    c.accel,
    // TCG: `max` gives the guest every feature TCG can emulate; KVM: the host's own CPU.
    '-cpu',
    c.accel === 'kvm' ? 'host' : 'max',
    '-smp',
    String(c.cpus),
    '-m',
    `${c.memoryMiB}M`,
    // RAM as a named backend, the same in every VM, so any VM's saved state loads into another.
    '-object',
    ram,
    '-nodefaults',
    '-no-user-config',
    '-nographic',
    // A guest reboot (reboot=k, panic) ends QEMU instead of booting again: a VM is one boot.
    '-no-reboot',
    '-kernel',
    c.kernel,
    '-initrd',
    c.initrd,
    '-append',
    c.append,
    // A socket so the host can type on the console (a telnet BREAK is the serial SysRq key); every
    // byte the guest writes is also logged to the file, with or without a client attached.
    '-chardev',
    `socket,id=console,path=${opt(c.consoleSocket)},server=on,wait=off,telnet=on,logfile=${opt(c.consoleLog)},logappend=on`,
    '-serial',
    'chardev:console',
    '-qmp',
    `unix:${opt(c.qmpSocket)},server=on,wait=off`,
    // The root disk first, so the guest names it /dev/vda (the token disk is /dev/vdb).
    '-drive',
    `id=root,file=${opt(c.rootDisk.path)},format=${c.rootDisk.format},if=none,cache=unsafe,discard=unmap`,
    '-device',
    `${dev('blk')},drive=root`,
  ];
  if (c.tokenDisk) {
    argv.push('-drive', `id=token,file=${opt(c.tokenDisk)},format=raw,if=none,readonly=on`, '-device', `${dev('blk')},drive=token`);
  }
  if (c.net.kind === 'user') {
    // restrict=on: the guest reaches nothing (no host, no internet); only the forward comes in.
    argv.push('-netdev', `user,id=net0,restrict=on,hostfwd=tcp:127.0.0.1:${c.net.hostPort}-${c.net.guestIp}:${c.net.guestPort}`);
  } else {
    argv.push('-netdev', `tap,id=net0,ifname=${c.net.ifname},script=no,downscript=no`);
  }
  argv.push('-device', `${dev('net')},netdev=net0`);
  if (c.vsockCid !== undefined) argv.push('-device', `${dev('vsock')},guest-cid=${c.vsockCid}`);
  if (c.incoming) argv.push('-incoming', 'defer');
  return argv;
}
