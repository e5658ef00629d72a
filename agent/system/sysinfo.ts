// SystemInfo via systeminformation: what the guest sees (its CPUs, memory, disks), not the host's.
import os from 'node:os';
import { create } from '@bufbuild/protobuf';
import si from 'systeminformation';
import {
  CpuInfoSchema,
  DiskInfoSchema,
  LoadInfoSchema,
  MemoryInfoSchema,
  NetworkInterfaceSchema,
  OsInfoSchema,
  SystemInfoResponseSchema,
  type SystemInfoResponse,
} from '../../proto/gen/runbox/v1/system_pb.js';

// systeminformation reports some sizes as floats; the wire wants whole bytes.
const bytes = (n: number | undefined): bigint => BigInt(Math.max(0, Math.round(n ?? 0)));

export async function collectSystemInfo(): Promise<SystemInfoResponse> {
  const [cpu, mem, disks, osInfo, load, interfaces] = await Promise.all([
    si.cpu(),
    si.mem(),
    si.fsSize(),
    si.osInfo(),
    si.currentLoad(),
    si.networkInterfaces(),
  ]);
  const [avg1 = 0, avg5 = 0, avg15 = 0] = os.loadavg();
  const ifaceList = Array.isArray(interfaces) ? interfaces : [interfaces];
  return create(SystemInfoResponseSchema, {
    cpu: create(CpuInfoSchema, {
      manufacturer: cpu.manufacturer,
      brand: cpu.brand,
      cores: cpu.cores,
      physicalCores: cpu.physicalCores,
      speedGhz: cpu.speed,
    }),
    memory: create(MemoryInfoSchema, {
      totalBytes: bytes(mem.total),
      availableBytes: bytes(mem.available),
      usedBytes: bytes(mem.total - mem.available),
      swapTotalBytes: bytes(mem.swaptotal),
      swapUsedBytes: bytes(mem.swapused),
    }),
    disks: disks.map((d) =>
      create(DiskInfoSchema, {
        mount: d.mount,
        device: d.fs,
        fsType: d.type,
        sizeBytes: bytes(d.size),
        usedBytes: bytes(d.used),
        availableBytes: bytes(d.available),
      }),
    ),
    os: create(OsInfoSchema, {
      platform: osInfo.platform,
      distro: osInfo.distro,
      release: osInfo.release,
      kernel: osInfo.kernel,
      arch: osInfo.arch,
      hostname: osInfo.hostname,
    }),
    uptimeSeconds: os.uptime(),
    load: create(LoadInfoSchema, { avg1, avg5, avg15, currentPercent: load.currentLoad }),
    interfaces: ifaceList.map((i) =>
      create(NetworkInterfaceSchema, {
        name: i.iface,
        ip4: i.ip4,
        ip6: i.ip6,
        mac: i.mac,
        internal: i.internal,
        state: i.operstate,
      }),
    ),
  });
}
