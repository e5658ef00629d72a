// The agent's ids (agent/core/ids.ts): v4 UUIDs formatted from bytes read from /dev/urandom on
// every call, so a clone restored from a snapshot never repeats its template's ids.
import { describe, expect, it } from 'vitest';
import { formatUuid, freshBytes, freshHex, freshUuid } from '../../agent/core/ids.js';

const V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('formatUuid', () => {
  it.each([
    ['all zeros', '00'.repeat(16), '00000000-0000-4000-8000-000000000000'],
    ['all ones', 'ff'.repeat(16), 'ffffffff-ffff-4fff-bfff-ffffffffffff'],
    ['counting bytes', '000102030405060708090a0b0c0d0e0f', '00010203-0405-4607-8809-0a0b0c0d0e0f'],
    ['version and variant bits already set', '0123456789ab4def8123456789abcdef', '01234567-89ab-4def-8123-456789abcdef'],
  ])('%s', (_name, hex, uuid) => {
    expect(formatUuid(Buffer.from(hex, 'hex'))).toBe(uuid);
  });

  it('sets the version to 4 and the variant to RFC 9562 whatever the bytes', () => {
    for (let i = 0; i < 256; i++) expect(formatUuid(Buffer.alloc(16, i))).toMatch(V4);
  });

  it('does not change the bytes it was given', () => {
    const bytes = Buffer.alloc(16, 0xff);
    formatUuid(bytes);
    expect(bytes).toEqual(Buffer.alloc(16, 0xff));
  });

  it.each([0, 15, 17])('refuses %i bytes', (count) => {
    expect(() => formatUuid(new Uint8Array(count))).toThrow(RangeError);
  });
});

describe('fresh ids', () => {
  it('freshUuid gives distinct v4 UUIDs', () => {
    const ids = Array.from({ length: 1000 }, freshUuid);
    for (const id of ids) expect(id).toMatch(V4);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('freshBytes and freshHex give what was asked for', () => {
    expect(freshBytes(0)).toHaveLength(0);
    expect(freshBytes(1000)).toHaveLength(1000);
    expect(freshHex(8)).toMatch(/^[0-9a-f]{16}$/);
  });

  it('is cheap enough for every id the agent makes (one read per id)', () => {
    const started = performance.now();
    for (let i = 0; i < 10_000; i++) freshUuid();
    // Far below what matters for runs and shells; catches an accidental spawn or open per id.
    expect(performance.now() - started).toBeLessThan(2_000);
  });
});
