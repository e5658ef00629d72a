// The VM's disks: a copy-on-write overlay over the image's rootfs (the image stays pristine and
// bootable by any number of VMs at once) and an optional token disk.
import { open, writeFile } from 'node:fs/promises';
import { runCommand, TOOL_TIMEOUT_MS } from '../local/command.js';
import { InvalidArgumentError } from '../errors.js';

/**
 * qcow2 overlay whose reads fall through to `backing` (the raw image rootfs, or a template's
 * frozen qcow2 disk); writes stay in the overlay.
 */
export async function createOverlay(backing: string, overlay: string, backingFormat: 'raw' | 'qcow2' = 'raw'): Promise<void> {
  await runCommand(['qemu-img', 'create', '-q', '-f', 'qcow2', '-F', backingFormat, '-b', backing, overlay], {
    timeoutMs: TOOL_TIMEOUT_MS,
  });
}

/**
 * The backing file a qcow2 overlay names in its header (offset 8: u64 offset of the name,
 * offset 16: u32 length; 0 when it has none), read without spawning qemu-img.
 */
export async function backingFileOf(qcow2: string): Promise<string | undefined> {
  const file = await open(qcow2, 'r');
  try {
    const header = Buffer.alloc(20);
    await file.read(header, 0, 20, 0);
    if (header.readUInt32BE(0) !== 0x514649fb) throw new InvalidArgumentError(`${qcow2} is not a qcow2 file`);
    const at = Number(header.readBigUInt64BE(8));
    const length = header.readUInt32BE(16);
    if (at === 0 || length === 0 || length > 4096) return undefined;
    const name = Buffer.alloc(length);
    await file.read(name, 0, length, at);
    return name.toString('utf8');
  } finally {
    await file.close();
  }
}

export const TOKEN_DISK_BYTES = 4096;

/**
 * The token as a small raw disk: its bytes, then NULs to 4 KiB. The guest agent reads /dev/vdb and
 * trims the NULs; only root (and group disk) can open the device, so user code cannot read it.
 */
export async function writeTokenDisk(path: string, token: string): Promise<void> {
  const bytes = Buffer.from(token, 'utf8');
  if (bytes.length === 0) throw new InvalidArgumentError('token: must not be empty');
  if (bytes.length >= TOKEN_DISK_BYTES) throw new InvalidArgumentError(`token: ${bytes.length} bytes; at most ${TOKEN_DISK_BYTES - 1}`);
  if (bytes.includes(0) || /\s/.test(token))
    throw new InvalidArgumentError('token: must not contain NUL or whitespace (the agent trims them)');
  const disk = Buffer.alloc(TOKEN_DISK_BYTES);
  bytes.copy(disk);
  await writeFile(path, disk, { mode: 0o600 });
}
