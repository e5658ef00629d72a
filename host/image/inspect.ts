// What a built tree and rootfs hold, read back with Debian's and e2fsprogs' own tools.
import type { WriteStream } from 'node:fs';
import { join } from 'node:path';
import { runCommand } from '../local/command.js';
import type { PackageInfo } from './manifest.js';

export async function dpkgPackages(root: string, log: WriteStream): Promise<PackageInfo[]> {
  const out = await runCommand(
    ['dpkg-query', `--admindir=${join(root, 'var/lib/dpkg')}`, '-W', '-f', '${Package}\t${Version}\t${db:Status-Abbrev}\n'],
    { captureStdout: true, log },
  );
  return out
    .split('\n')
    .map((l) => l.split('\t'))
    .filter((f) => f.length === 3 && f[2]!.startsWith('ii'))
    .map((f) => ({ name: f[0]!, version: f[1]! }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

export async function ext4Blocks(path: string, log: WriteStream): Promise<{ used: number; total: number }> {
  const out = await runCommand(['dumpe2fs', '-h', path], { captureStdout: true, log, env: { PATH: process.env.PATH, LC_ALL: 'C' } });
  const num = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(out)?.[1] ?? NaN);
  const total = num('Block count');
  return { total, used: total - num('Free blocks') };
}
