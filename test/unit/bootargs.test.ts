// Kernel command lines (host/vm/bootargs.ts): ipArg spells the kernel's static ip= form, and
// joinBootArgs merges the launcher's, the image's and the caller's arguments so that a later
// occurrence of a key (key=value or a bare flag) replaces the earlier one, at the later position.
import { describe, expect, it } from 'vitest';
import { BASE_BOOT_ARGS } from '../../host/image/build.js';
import { ipArg, joinBootArgs, TAP_NET, USER_NET } from '../../host/vm/bootargs.js';
import { FIRECRACKER_BASE_BOOT_ARGS } from '../../host/vm/firecracker.js';

describe('ipArg', () => {
  it.each<[string, [string, string, string, string?], string]>([
    ['the TAP network', [TAP_NET.guestIp, TAP_NET.hostIp, TAP_NET.netmask], 'ip=172.16.0.2::172.16.0.1:255.255.255.252::eth0:off'],
    ['user-mode networking', [USER_NET.guestIp, USER_NET.gateway, USER_NET.netmask], 'ip=10.0.2.15::10.0.2.2:255.255.255.0::eth0:off'],
    ['another device', ['192.168.1.5', '192.168.1.1', '255.255.255.0', 'ens3'], 'ip=192.168.1.5::192.168.1.1:255.255.255.0::ens3:off'],
  ])('%s → %s', (_name, args, expected) => {
    const arg = ipArg(...args);
    expect(arg).toBe(expected);
    // ip=<client>:<server>:<gw>:<netmask>:<hostname>:<device>:<autoconf>: seven fields, no server or hostname
    expect(arg.slice(3).split(':')).toEqual([args[0], '', args[1], args[2], '', args[3] ?? 'eth0', 'off']);
  });
});

describe('joinBootArgs', () => {
  it.each<[string, (string | undefined)[], string]>([
    ['nothing', [], ''],
    ['only undefined and empty parts', [undefined, '', '   ', undefined], ''],
    ['one part as given', ['console=ttyS0 quiet'], 'console=ttyS0 quiet'],
    ['parts in order', ['a=1', 'b=2', 'c'], 'a=1 b=2 c'],
    ['whitespace collapsed', ['  a=1 \t b=2\n', ' c '], 'a=1 b=2 c'],
    ['undefined parts skipped', ['a=1', undefined, 'b=2'], 'a=1 b=2'],
    ['a later value replaces, at the later position', ['a=1 b=2', 'a=3'], 'b=2 a=3'],
    ['an override inside one part', ['a=1 b=2 a=3'], 'b=2 a=3'],
    ['a repeated bare flag kept once, last position', ['quiet ro', 'quiet'], 'ro quiet'],
    ['a flag and key=value share a key', ['quiet', 'quiet=0'], 'quiet=0'],
    ['key=value then the bare flag', ['rw=1', 'rw'], 'rw'],
    ['only the first "=" splits the key', ['init=/bin/sh', 'init=/sbin/init=x'], 'init=/sbin/init=x'],
    ['an empty value still overrides', ['ip=dhcp', 'ip='], 'ip='],
    ['keys are case-sensitive', ['Quiet', 'quiet'], 'Quiet quiet'],
    ['dotted module parameters are their own keys', ['i8042.noaux', 'i8042.nokbd', 'i8042.noaux=0'], 'i8042.nokbd i8042.noaux=0'],
    ['identical parts collapse', ['a=1 b', 'a=1 b'], 'a=1 b'],
  ])('%s: %j → %j', (_name, parts, expected) => {
    expect(joinBootArgs(...parts)).toBe(expected);
  });

  it('lets the image override the Firecracker basics and ip= come last', () => {
    expect(joinBootArgs(FIRECRACKER_BASE_BOOT_ARGS, BASE_BOOT_ARGS, ipArg(TAP_NET.guestIp, TAP_NET.hostIp, TAP_NET.netmask))).toBe(
      'console=ttyS0 pci=off root=/dev/vda rw panic=-1 reboot=k i8042.noaux i8042.nokbd quiet ip=172.16.0.2::172.16.0.1:255.255.255.252::eth0:off',
    );
  });

  it('lets a caller override the image (quiet off, another root, another ip=)', () => {
    const line = joinBootArgs(
      'console=ttyS0',
      BASE_BOOT_ARGS,
      ipArg(USER_NET.guestIp, USER_NET.gateway, USER_NET.netmask),
      'quiet=0 root=/dev/vdb ip=dhcp loglevel=7',
    );
    expect(line).toBe('console=ttyS0 rw panic=-1 reboot=k i8042.noaux i8042.nokbd quiet=0 root=/dev/vdb ip=dhcp loglevel=7');
    // exactly one of each key, whatever was overridden
    const keys = line.split(' ').map((w) => w.split('=')[0]);
    expect(new Set(keys).size).toBe(keys.length);
  });
});
