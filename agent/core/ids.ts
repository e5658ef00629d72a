// Every id the agent makes (run ids, shell sessions, temporary names) comes from here, read
// from the kernel on each call. A sandbox restored from a memory snapshot is a copy of its
// template: Node's randomUUID cache and OpenSSL's DRBG state are copied with it (same pid,
// no fork), so two clones would hand out the same ids. The kernel's CRNG is reseeded by
// LifecycleService.Claim; nothing here keeps random bytes in user space.
import { openSync, readSync } from 'node:fs';

/**
 * Opened on first use, not at import: main closes inherited fds before anything opens, and
 * libuv opens with O_CLOEXEC, so runs and shells never get it.
 */
let urandom: number | undefined;

/** `count` bytes straight from /dev/urandom. */
export function freshBytes(count: number): Buffer {
  const bytes = Buffer.allocUnsafe(count);
  urandom ??= openSync('/dev/urandom', 'r');
  for (let got = 0; got < count;) {
    const n = readSync(urandom, bytes, got, count - got, null);
    if (n <= 0) throw new Error('/dev/urandom returned no bytes');
    got += n;
  }
  return bytes;
}

/** 16 bytes as an RFC 9562 version 4 UUID (the version and variant bits are overwritten). */
export function formatUuid(bytes: Uint8Array): string {
  if (bytes.length !== 16) throw new RangeError(`a UUID takes 16 bytes, not ${bytes.length}`);
  const b = Buffer.from(bytes);
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const hex = b.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** A v4 UUID from fresh kernel randomness (one 16-byte read). */
export function freshUuid(): string {
  return formatUuid(freshBytes(16));
}

/** `bytes` fresh random bytes as lowercase hex, for unique file names. */
export function freshHex(bytes: number): string {
  return freshBytes(bytes).toString('hex');
}
