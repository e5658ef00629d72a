// A shell session's recent output (agent/shell/ring-buffer.ts): the last `capacity` bytes, oldest
// first, and whether anything older was dropped. Table rows for the boundaries, then many seeded
// push sequences checked against the obvious model (keep everything, take the tail).
import { describe, expect, it } from 'vitest';
import { RingBuffer } from '../../agent/shell/ring-buffer.js';

function fill(capacity: number, chunks: (string | Uint8Array)[]): RingBuffer {
  const ring = new RingBuffer(capacity);
  for (const c of chunks) ring.push(typeof c === 'string' ? Buffer.from(c) : c);
  return ring;
}

describe('RingBuffer', () => {
  it.each<[string, number, string[], string, boolean]>([
    ['nothing pushed', 4, [], '', false],
    ['an empty chunk', 4, [''], '', false],
    ['under capacity', 4, ['ab'], 'ab', false],
    ['pieces under capacity', 4, ['a', 'b', 'c'], 'abc', false],
    ['exactly full from pieces', 4, ['ab', 'cd'], 'abcd', false],
    ['exactly full from one chunk', 4, ['abcd'], 'abcd', false],
    ['one byte over', 4, ['abcd', 'e'], 'bcde', true],
    ['wrapping around', 4, ['ab', 'cd', 'ef'], 'cdef', true],
    ['wrapping twice', 4, ['abc', 'def', 'ghi'], 'fghi', true],
    ['a chunk of capacity after data', 4, ['a', 'wxyz'], 'wxyz', true],
    ['a chunk of capacity after an empty chunk', 4, ['', 'wxyz'], 'wxyz', false],
    ['a chunk over capacity keeps its tail', 4, ['abcdefg'], 'defg', true],
    ['a chunk over capacity after a wrap', 4, ['abc', 'de', '0123456789'], '6789', true],
    ['small pushes after a big one', 4, ['abcdefg', 'h', 'i'], 'fghi', true],
    ['an empty chunk after a wrap changes nothing', 4, ['abcde', ''], 'bcde', true],
    ['capacity 1', 1, ['a', 'b', 'c'], 'c', true],
    ['capacity 1, one byte', 1, ['z'], 'z', false],
    ['capacity 0 keeps nothing', 0, ['abc'], '', true],
    ['capacity 0 with only empty chunks', 0, ['', ''], '', false],
  ])('%s (capacity %i, %j) → %j, truncated %s', (_name, capacity, chunks, bytes, truncated) => {
    const snapshot = fill(capacity, chunks).snapshot();
    expect(snapshot.bytes.toString()).toBe(bytes);
    expect(snapshot.truncated).toBe(truncated);
  });

  it('takes any Uint8Array, not only Buffers', () => {
    const ring = fill(3, [new Uint8Array([1, 2]), new Uint8Array([3, 4])]);
    expect([...ring.snapshot().bytes]).toEqual([2, 3, 4]);
  });

  it('hands out a copy: changing a snapshot or the pushed chunk changes nothing kept', () => {
    const chunk = Buffer.from('abc');
    const ring = fill(8, [chunk]);
    chunk.fill(0x78);
    const first = ring.snapshot();
    first.bytes.fill(0x79);
    expect(ring.snapshot().bytes.toString()).toBe('abc');
  });

  it('keeps reporting truncated once anything was dropped', () => {
    const ring = fill(4, ['abcde']);
    ring.push(Buffer.from('f'));
    expect(ring.snapshot()).toEqual({ bytes: Buffer.from('cdef'), truncated: true });
  });

  // Seeded so a failure reproduces: xorshift32.
  function* random(seed: number): Generator<number> {
    let x = seed || 1;
    for (;;) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      yield (x >>> 0) / 0x1_0000_0000;
    }
  }

  it.each([1, 2, 3, 7, 16, 64].flatMap((capacity) => [1, 2, 3, 4, 5, 6].map((seed) => [capacity, seed * 7919 + capacity])))(
    'capacity %i, seed %i: 200 random pushes agree with keep-everything-take-the-tail',
    (capacity, seed) => {
      const rand = random(seed);
      const ring = new RingBuffer(capacity);
      let all = Buffer.alloc(0);
      let counter = 0;
      for (let step = 0; step < 200; step++) {
        // sizes 0..2×capacity+1, so empty, partial, exact and oversized chunks all occur
        const size = Math.floor(rand.next().value! * (2 * capacity + 2));
        const chunk = Buffer.from(Array.from({ length: size }, () => counter++ & 0xff));
        ring.push(chunk);
        all = Buffer.concat([all, chunk]);
        const snapshot = ring.snapshot();
        expect(snapshot.bytes.equals(all.subarray(Math.max(0, all.length - capacity)))).toBe(true);
        expect(snapshot.truncated).toBe(all.length > capacity);
      }
    },
  );
});
