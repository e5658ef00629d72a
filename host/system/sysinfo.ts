// SystemInfo as plain numbers (bytes as number: exact up to 8 PiB).
import type { SystemInfoResponse } from '../../proto/gen/runbox/v1/system_pb.js';

export interface SystemInfo {
  cpu: { manufacturer: string; brand: string; cores: number; physicalCores: number; speedGhz: number };
  memory: { totalBytes: number; availableBytes: number; usedBytes: number; swapTotalBytes: number; swapUsedBytes: number };
  disks: { mount: string; device: string; fsType: string; sizeBytes: number; usedBytes: number; availableBytes: number }[];
  os: { platform: string; distro: string; release: string; kernel: string; arch: string; hostname: string };
  uptimeSeconds: number;
  load: { avg1: number; avg5: number; avg15: number; currentPercent: number };
  interfaces: { name: string; ip4: string; ip6: string; mac: string; internal: boolean; state: string }[];
}

export function toSystemInfo(r: SystemInfoResponse): SystemInfo {
  const n = (v: bigint) => Number(v);
  return {
    cpu: {
      manufacturer: r.cpu?.manufacturer ?? '',
      brand: r.cpu?.brand ?? '',
      cores: r.cpu?.cores ?? 0,
      physicalCores: r.cpu?.physicalCores ?? 0,
      speedGhz: r.cpu?.speedGhz ?? 0,
    },
    memory: {
      totalBytes: n(r.memory?.totalBytes ?? 0n),
      availableBytes: n(r.memory?.availableBytes ?? 0n),
      usedBytes: n(r.memory?.usedBytes ?? 0n),
      swapTotalBytes: n(r.memory?.swapTotalBytes ?? 0n),
      swapUsedBytes: n(r.memory?.swapUsedBytes ?? 0n),
    },
    disks: r.disks.map((d) => ({
      mount: d.mount,
      device: d.device,
      fsType: d.fsType,
      sizeBytes: n(d.sizeBytes),
      usedBytes: n(d.usedBytes),
      availableBytes: n(d.availableBytes),
    })),
    os: {
      platform: r.os?.platform ?? '',
      distro: r.os?.distro ?? '',
      release: r.os?.release ?? '',
      kernel: r.os?.kernel ?? '',
      arch: r.os?.arch ?? '',
      hostname: r.os?.hostname ?? '',
    },
    uptimeSeconds: r.uptimeSeconds,
    load: {
      avg1: r.load?.avg1 ?? 0,
      avg5: r.load?.avg5 ?? 0,
      avg15: r.load?.avg15 ?? 0,
      currentPercent: r.load?.currentPercent ?? 0,
    },
    interfaces: r.interfaces.map((i) => ({ name: i.name, ip4: i.ip4, ip6: i.ip6, mac: i.mac, internal: i.internal, state: i.state })),
  };
}
