// Kernel command lines for runbox guests.

/** Guest network for TAP (Firecracker's convention): host 172.16.0.1/30, guest 172.16.0.2. */
export const TAP_NET = { hostIp: '172.16.0.1', guestIp: '172.16.0.2', prefix: 30, netmask: '255.255.255.252' } as const;
/** QEMU user-mode networking (slirp) puts the guest at 10.0.2.15/24 behind 10.0.2.2. */
export const USER_NET = { guestIp: '10.0.2.15', gateway: '10.0.2.2', netmask: '255.255.255.0' } as const;

/** The kernel's `ip=<client>::<gateway>:<netmask>::<device>:off` (no autoconfiguration). */
export function ipArg(client: string, gateway: string, netmask: string, device = 'eth0'): string {
  return `ip=${client}::${gateway}:${netmask}::${device}:off`;
}

/**
 * Joins boot-arg strings; for `key=value` and bare flags alike a later occurrence of the same key
 * replaces an earlier one, so per-VM arguments override the image's defaults.
 */
export function joinBootArgs(...parts: (string | undefined)[]): string {
  const byKey = new Map<string, string>();
  for (const part of parts) {
    for (const word of (part ?? '').split(/\s+/).filter(Boolean)) {
      const key = word.includes('=') ? word.slice(0, word.indexOf('=')) : word;
      byKey.delete(key); // re-insert at the end: the command line keeps the override's position
      byKey.set(key, word);
    }
  }
  return [...byKey.values()].join(' ');
}
