// Turns a directory tree into an ext4 image with `mkfs.ext4 -d` (no mount, no loop device) and checks it.
// Reproducible: fixed UUID and directory hash seed, SOURCE_DATE_EPOCH for every timestamp mke2fs writes.
import { open, rm, stat } from 'node:fs/promises';
import type { WriteStream } from 'node:fs';
import { createHash } from 'node:crypto';
import { runCommand } from '../local/command.js';

export interface Ext4Options {
  tree: string;
  out: string;
  /** Bytes the tree occupies in 4 KiB blocks, and its inode count (from treeUsage). */
  usedBytes: number;
  inodes: number;
  /** Free space left for the sandbox's own files, MiB. */
  slackMiB: number;
  /** Seeds the UUID and hash seed so the same image name always gets the same ones. */
  seed: string;
  epoch: number;
  log: WriteStream;
}

/** A stable RFC 4122-shaped UUID derived from a string. */
export function uuidFrom(seed: string): string {
  const h = createHash('sha256').update(seed).digest();
  h[6] = (h[6]! & 0x0f) | 0x40;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}

const MiB = 1024 * 1024;

/**
 * Journal size, fixed: mke2fs's default doubles from 16 to 32 MiB once the file passes 1 GiB, which costs the
 * rust image 16 MiB of allocated blocks for no benefit (a sandbox's metadata traffic does not grow with its image).
 */
export const JOURNAL_MIB = 16;

/** Image size: tree + 10% for metadata + inode table + journal + slack, rounded up to 1 MiB. */
export function imageSizeBytes(usedBytes: number, inodes: number, slackMiB: number): number {
  const inodeTable = inodes * 2 * 256;
  const raw = usedBytes * 1.1 + inodeTable + JOURNAL_MIB * MiB + slackMiB * MiB;
  return Math.ceil(raw / MiB) * MiB;
}

export async function makeExt4(o: Ext4Options): Promise<void> {
  await rm(o.out, { force: true });
  const size = imageSizeBytes(o.usedBytes, o.inodes, o.slackMiB);
  // Sparse file: only the blocks mkfs writes take disk space.
  const fh = await open(o.out, 'w');
  await fh.truncate(size);
  await fh.close();
  const inodeCount = Math.max(32768, Math.ceil((o.inodes * 2) / 8192) * 8192);
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    SOURCE_DATE_EPOCH: String(o.epoch),
    E2FSPROGS_FAKE_TIME: String(o.epoch),
    LC_ALL: 'C',
  };
  await runCommand(
    [
      'mkfs.ext4',
      '-q',
      '-F',
      '-b',
      '4096',
      '-m',
      '0',
      '-N',
      String(inodeCount),
      '-J',
      `size=${JOURNAL_MIB}`,
      '-L',
      'runbox-root',
      '-U',
      uuidFrom(`uuid:${o.seed}`),
      '-E',
      `hash_seed=${uuidFrom(`hash:${o.seed}`)},root_owner=0:0,lazy_itable_init=0,nodiscard`,
      '-d',
      o.tree,
      o.out,
    ],
    { env, log: o.log },
  );
}

/** `e2fsck -fn`: forced, read-only check. Throws with e2fsck's output when the image is not clean. */
export async function checkExt4(path: string, log: WriteStream): Promise<void> {
  await runCommand(['e2fsck', '-fn', path], { log, env: { PATH: process.env.PATH, LC_ALL: 'C' } });
}

/** Apparent size and allocated bytes of a (sparse) file. */
export async function fileUsage(path: string): Promise<{ size: number; allocated: number }> {
  const st = await stat(path);
  return { size: st.size, allocated: st.blocks * 512 };
}
