// The kernel steps of the image builder (host/image/kernel.ts), called on their own as the
// exported helpers they are, fail with BuildError (a RunboxError: code build_failed, reason
// BUILD_FAILED, metadata.step), not a bare Error, on real files that are not what they expect.
import { createWriteStream, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bzImagePayload, extractVmlinux, resolveModules } from '../../host/image/kernel.js';
import { BuildError } from '../../host/image/index.js';
import { RunboxError } from '../../host/errors.js';
import { failure } from '../helpers/assert.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'runbox-kernel-errors-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A bzImage header (the "HdrS" magic at 0x202, boot protocol 2.08) whose payload is `payload`. */
function fakeBzImage(payload: Buffer): Buffer {
  const setup = Buffer.alloc(1024);
  setup.writeUInt8(1, 0x1f1); // setup_sects: (1 + 1) * 512 bytes before the protected-mode code
  setup.writeUInt32LE(0x53726448, 0x202);
  setup.writeUInt16LE(0x208, 0x206);
  setup.writeUInt32LE(0, 0x248); // payload_offset, from the start of the protected-mode code
  setup.writeUInt32LE(payload.length, 0x24c);
  return Buffer.concat([setup, payload]);
}

describe('kernel steps fail with BuildError', () => {
  it.each([
    ['a file that is not a bzImage', Buffer.from('MZ not a kernel at all'.padEnd(0x300, '.')), 'not a bzImage (no "HdrS" boot header)'],
    [
      'a bzImage with an unknown compression',
      fakeBzImage(Buffer.from('\x00\x01\x02\x03payload\x10\x00\x00\x00')),
      'unknown kernel compression (magic 00010203)',
    ],
  ])('extractVmlinux of %s', async (_what, bytes, message) => {
    const file = path.join(dir, `bz-${message.length}`);
    writeFileSync(file, bytes);
    const log = createWriteStream(path.join(dir, 'log'));
    try {
      const error = await failure(extractVmlinux(file, path.join(dir, 'vmlinux'), log));
      expect(error).toBeInstanceOf(BuildError);
      expect(error).toBeInstanceOf(RunboxError);
      expect(error).toMatchObject({ code: 'build_failed', reason: 'BUILD_FAILED', metadata: { step: 'vmlinux' }, message });
    } finally {
      log.end();
    }
  });

  it('bzImagePayload of a boot protocol too old to locate the payload', () => {
    const old = fakeBzImage(Buffer.alloc(16));
    old.writeUInt16LE(0x206, 0x206);
    expect(() => bzImagePayload(old)).toThrow(BuildError);
    expect(() => bzImagePayload(old)).toThrow('boot protocol 206 too old to locate the payload');
  });

  it('resolveModules of a module the tree does not have', async () => {
    const modRoot = path.join(dir, 'modules');
    mkdirSync(path.join(modRoot, 'kernel'), { recursive: true });
    writeFileSync(path.join(modRoot, 'modules.builtin'), '');
    const error = await failure(resolveModules(modRoot, ['virtio_blk']));
    expect(error).toBeInstanceOf(BuildError);
    expect(error).toMatchObject({ metadata: { step: 'initramfs' } });
    expect(error.message).toMatch(/kernel module virtio_blk is neither built in nor present in/);
  });
});
