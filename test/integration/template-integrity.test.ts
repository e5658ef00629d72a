// A template is checked before a restore: a state or RAM file cut short, rewritten or gone, or a meta
// of another key, makes findTemplate remove the template and say why, so createSandbox boots
// cold instead of handing QEMU a stream it would hang or fail on. Real files (the disk a qcow2
// overlay made by qemu-img over a raw rootfs), no VM.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, truncateSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findTemplate, TEMPLATE_FORMAT, type TemplateMeta } from '../../host/vm/template.js';

const home = mkdtempSync(path.join(os.tmpdir(), 'runbox-templates-'));
const env = { ...process.env, RUNBOX_HOME: home };
afterAll(() => rmSync(home, { recursive: true, force: true }));

const STATE = Buffer.alloc(256 * 1024, 7);
const RAM = Buffer.alloc(1024 * 1024, 3);
// The image rootfs a template's disk reads through to.
const ROOTFS = path.join(home, 'rootfs.ext4');
writeFileSync(ROOTFS, Buffer.alloc(1024 * 1024));
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** A template directory as captureTemplate leaves it, with `key`. */
function makeTemplate(key: string, state: Buffer = STATE): string {
  const dir = path.join(home, 'templates', key);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileSync(path.join(dir, 'mem.state'), state);
  writeFileSync(path.join(dir, 'mem.ram'), RAM);
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'raw', '-b', ROOTFS, path.join(dir, 'root.qcow2')]);
  writeFileSync(path.join(dir, 'token.img'), 'token');
  const meta: TemplateMeta = {
    format: TEMPLATE_FORMAT,
    key,
    image: 'python',
    shape: { machine: 'microvm', accel: 'tcg', cpus: 2, memoryMiB: 1024, init: 'systemd', net: 'user', isolation: 'shared' },
    append: 'console=ttyS0',
    token: 'template-token',
    state: { size: state.length, sha256: sha256(state) },
    ram: { size: RAM.length, sha256: sha256(RAM) },
    createdAt: new Date().toISOString(),
    coldBootSeconds: 1,
    saveMs: 1,
  };
  writeFileSync(path.join(dir, 'meta.json'), JSON.stringify(meta), { mode: 0o600 });
  return dir;
}

describe('findTemplate', () => {
  it('returns an intact template', async () => {
    const dir = makeTemplate('a'.repeat(32));
    const template = await findTemplate('a'.repeat(32), () => {}, env);
    expect(template?.dir).toBe(dir);
    expect(template?.meta.token).toBe('template-token');
  });

  it('returns undefined, quietly, when there is none', async () => {
    const why: string[] = [];
    expect(await findTemplate('f'.repeat(32), (w) => why.push(w), env)).toBeUndefined();
    expect(why).toEqual([]);
  });

  it.each([
    [
      'a truncated state file',
      (dir: string) => truncateSync(path.join(dir, 'mem.state'), 1000),
      /mem.state is 1000 bytes, 262144 were saved/,
    ],
    [
      'a state file of the same size, other bytes',
      (dir: string) => writeFileSync(path.join(dir, 'mem.state'), Buffer.alloc(256 * 1024, 8)),
      /sha256 is [0-9a-f]{64}, [0-9a-f]{64} was saved \(corrupted\)/,
    ],
    ['a truncated RAM file', (dir: string) => truncateSync(path.join(dir, 'mem.ram'), 4096), /mem.ram is 4096 bytes, 1048576 were saved/],
    [
      'a RAM file of the same size, other bytes',
      (dir: string) => writeFileSync(path.join(dir, 'mem.ram'), Buffer.alloc(1024 * 1024, 4)),
      /mem.ram's sha256 is [0-9a-f]{64}, [0-9a-f]{64} was saved \(corrupted\)/,
    ],
    ['a missing disk', (dir: string) => rmSync(path.join(dir, 'root.qcow2')), /root.qcow2/],
    [
      'a disk whose backing rootfs is gone (its image directory removed)',
      (dir: string) => {
        const gone = path.join(home, 'removed-home-rootfs.ext4');
        writeFileSync(gone, Buffer.alloc(1024 * 1024));
        execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'raw', '-b', gone, path.join(dir, 'root.qcow2')]);
        rmSync(gone);
      },
      /backing rootfs .*removed-home-rootfs.ext4 is gone/,
    ],
    ['a disk that is not qcow2', (dir: string) => writeFileSync(path.join(dir, 'root.qcow2'), 'disk'), /is not a qcow2 file/],
  ])('removes a template with %s and says why', async (_name, damage, reason) => {
    const key = createHash('sha256').update(_name).digest('hex').slice(0, 32);
    const dir = makeTemplate(key);
    damage(dir);
    const why: string[] = [];
    expect(await findTemplate(key, (w) => why.push(w), env)).toBeUndefined();
    expect(why).toHaveLength(1);
    expect(why[0]).toMatch(new RegExp(`template ${key} \\(python\\) was unusable and has been removed: `));
    expect(why[0]).toMatch(reason);
    expect(existsSync(dir)).toBe(false);
  });

  it('refuses a meta.json recorded under another key', async () => {
    const dir = makeTemplate('b'.repeat(32));
    const other = path.join(home, 'templates', 'c'.repeat(32));
    rmSync(other, { recursive: true, force: true });
    // A directory renamed by hand: its meta names another key.
    const { renameSync } = await import('node:fs');
    renameSync(dir, other);
    const why: string[] = [];
    expect(await findTemplate('c'.repeat(32), (w) => why.push(w), env)).toBeUndefined();
    expect(why[0]).toMatch(/another format or key/);
  });
});
