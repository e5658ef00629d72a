// Artifacts as layers and back. Push: a gzip layer is made once per content id and kept in
// $RUNBOX_HOME/blobs (a second push, or another image with the same kernel, reuses it).
// Pull: a layer is downloaded to a .partial file that a later pull resumes with a Range
// request, checked against its digest, then unpacked sparsely (zero blocks become holes, so
// a 522 MiB rootfs takes its 245 MiB again) and checked against the artifact's content id.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform, Writable } from 'node:stream';
import { createGunzip, createGzip } from 'node:zlib';
import { runboxHome } from '../image/paths.js';
import { RegistryError } from './errors.js';

export function blobCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(runboxHome(env), 'blobs');
}

export interface Layer {
  file: string;
  digest: string;
  size: number;
}

/** A stream step that hashes and counts what passes. */
function tap(onBytes: (n: number) => void = () => {}): Transform & { digest: () => string; bytes: () => number } {
  const hash = createHash('sha256');
  let bytes = 0;
  const t = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      bytes += chunk.length;
      onBytes(chunk.length);
      done(null, chunk);
    },
  });
  return Object.assign(t, { digest: () => `sha256:${hash.digest('hex')}`, bytes: () => bytes });
}

/** The gzip layer of `file` (content id `id`), made now or taken from the cache. */
export async function gzipLayer(file: string, id: string, onBytes: (n: number) => void, env = process.env): Promise<Layer> {
  const dir = blobCacheDir(env);
  const hex = id.replace(/^sha256:/, '');
  const out = join(dir, `${hex}.gz`);
  const metaFile = join(dir, `${hex}.gz.json`);
  try {
    const meta = JSON.parse(await readFile(metaFile, 'utf8')) as { digest: string; size: number };
    if ((await stat(out)).size === meta.size) return { file: out, ...meta };
  } catch {
    /* not cached yet */
  }
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const temp = `${out}.${process.pid}.tmp`;
  try {
    const counted = tap();
    // mtime 0 and no name in the header (zlib writes none): the same input gives the same layer.
    await pipeline(
      createReadStream(file, { highWaterMark: 4 << 20 }).on('data', (c) => onBytes(c.length)),
      createGzip({ level: 6 }),
      counted,
      createWriteStream(temp),
    );
    const layer = { digest: counted.digest(), size: counted.bytes() };
    await rename(temp, out);
    await writeFile(metaFile, JSON.stringify(layer) + '\n');
    return { file: out, ...layer };
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

/** Writes a stream to `file` leaving every all-zero 4 KiB block a hole; the file ends at the stream's length. */
function sparseWriter(file: string): Writable {
  const BLOCK = 4096;
  let position = 0;
  let pending: Buffer = Buffer.alloc(0);
  const handle = open(file, 'w', 0o644);
  const zero = Buffer.alloc(BLOCK);
  const flush = async (data: Buffer) => {
    const fh = await handle;
    let run = -1;
    for (let off = 0; off < data.length; off += BLOCK) {
      const block = data.subarray(off, off + BLOCK);
      const isZero = block.length === BLOCK && block.equals(zero);
      if (!isZero && run < 0) run = off;
      if (isZero && run >= 0) {
        await fh.write(data, run, off - run, position + run);
        run = -1;
      }
    }
    if (run >= 0) await fh.write(data, run, data.length - run, position + run);
    position += data.length;
  };
  const w = new Writable({
    write(chunk: Buffer, _encoding, done) {
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      const whole = pending.length - (pending.length % BLOCK);
      const now = pending.subarray(0, whole);
      pending = pending.subarray(whole);
      flush(now).then(() => done(), done);
    },
    final(done) {
      flush(pending)
        .then(async () => {
          const fh = await handle;
          await fh.truncate(position);
          await fh.close();
        })
        .then(() => done(), done);
    },
  });
  return w;
}

/** Unpacks a downloaded layer into `out` (sparse), returning the sha256 and size of what was written. */
export async function unpackLayer(downloaded: string, gzip: boolean, out: string): Promise<{ id: string; size: number }> {
  const counted = tap();
  const source = createReadStream(downloaded, { highWaterMark: 4 << 20 });
  try {
    if (gzip) await pipeline(source, createGunzip(), counted, sparseWriter(out));
    else await pipeline(source, counted, sparseWriter(out));
  } catch (error) {
    await rm(out, { force: true });
    throw new RegistryError(`unpacking ${downloaded}: ${(error as Error).message}`, { reason: 'LAYER_CORRUPT', cause: error });
  }
  return { id: counted.digest(), size: counted.bytes() };
}

/** sha256 of the first bytes of a file already downloaded (to go on hashing where a resume starts). */
export async function hashPrefix(file: string): Promise<{ hash: ReturnType<typeof createHash>; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  try {
    for await (const chunk of createReadStream(file, { highWaterMark: 4 << 20 })) {
      hash.update(chunk as Buffer);
      bytes += (chunk as Buffer).length;
    }
  } catch {
    /* nothing downloaded yet */
  }
  return { hash, bytes };
}
