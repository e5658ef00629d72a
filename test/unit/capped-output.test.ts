// One output stream of a run (agent/usercode/output.ts): the first `limit` bytes are forwarded in
// order, the rest only counted; `truncated` says whether anything was cut. Pieces of one event-loop
// turn go out as one message, and BATCH_BYTES pending goes out at once. Real timers throughout:
// `turn()` lets the loop run the flush CappedOutput scheduled.
import { describe, expect, it } from 'vitest';
import { BATCH_BYTES, CappedOutput } from '../../agent/usercode/output.js';

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A CappedOutput whose forwarded messages are kept. */
function capped(limit: number): { out: CappedOutput; sent: Buffer[] } {
  const sent: Buffer[] = [];
  return { out: new CappedOutput(limit, (pieces) => sent.push(Buffer.concat(pieces))), sent };
}

/** Distinct bytes so order and boundaries show: chunk i is filled with the letter i. */
const chunk = (i: number, size: number) => Buffer.alloc(size, 97 + (i % 26));

/** Byte equality without a per-byte deep compare (slow on 256 KiB), lengths first for a readable failure. */
function expectBytes(actual: Buffer, expected: Buffer): void {
  expect(actual.length).toBe(expected.length);
  expect(actual.equals(expected)).toBe(true);
}

describe('CappedOutput keeps the first `limit` bytes', () => {
  it.each<[string, number, number[], { kept: number; truncated: boolean }]>([
    ['nothing written', 10, [], { kept: 0, truncated: false }],
    ['only empty chunks', 10, [0, 0], { kept: 0, truncated: false }],
    ['under the limit', 10, [3, 4], { kept: 7, truncated: false }],
    ['exactly the limit in one chunk', 10, [10], { kept: 10, truncated: false }],
    ['exactly the limit in pieces', 10, [4, 6], { kept: 10, truncated: false }],
    ['one byte over', 10, [11], { kept: 10, truncated: true }],
    ['a chunk straddling the limit', 10, [6, 6], { kept: 10, truncated: true }],
    ['chunks after the limit is reached', 10, [10, 5, 5], { kept: 10, truncated: true }],
    ['an empty chunk after the limit', 10, [10, 0], { kept: 10, truncated: false }],
    ['limit 0 with output', 0, [1], { kept: 0, truncated: true }],
    ['limit 0 without output', 0, [0], { kept: 0, truncated: false }],
    ['limit 1', 1, [2, 2], { kept: 1, truncated: true }],
    ['a limit above one batch', BATCH_BYTES + 10, [BATCH_BYTES, 20], { kept: BATCH_BYTES + 10, truncated: true }],
  ])('%s (limit %i, chunks %j)', async (_name, limit, sizes, expected) => {
    const { out, sent } = capped(limit);
    const chunks = sizes.map((size, i) => chunk(i, size));
    for (const c of chunks) out.push(c);
    await turn();
    out.flush();
    const all = Buffer.concat(chunks);
    expectBytes(Buffer.concat(sent), all.subarray(0, expected.kept));
    expect(out.totalBytes).toBe(all.length);
    expect(out.truncated).toBe(expected.truncated);
    expect(sent.every((m) => m.length > 0)).toBe(true); // never an empty message
  });

  it('keeps counting every byte after the limit', () => {
    const { out } = capped(4);
    for (let i = 0; i < 1000; i++) out.push(chunk(i, 1000));
    expect(out.totalBytes).toBe(1_000_000);
    expect(out.truncated).toBe(true);
  });
});

describe('CappedOutput batching', () => {
  it('sends nothing synchronously for a small piece, then one message in the next turn', async () => {
    const { out, sent } = capped(1 << 20);
    out.push(Buffer.from('hello\n'));
    expect(sent).toEqual([]);
    await turn();
    expect(sent.map(String)).toEqual(['hello\n']);
  });

  it('joins the pieces of one turn into one message, in order', async () => {
    const { out, sent } = capped(1 << 20);
    out.push(Buffer.from('a'));
    out.push(Buffer.from('bc'));
    out.push(Buffer.from('def'));
    await turn();
    out.push(Buffer.from('g'));
    await turn();
    expect(sent.map(String)).toEqual(['abcdef', 'g']);
  });

  it.each([
    ['one piece of BATCH_BYTES', [BATCH_BYTES], [BATCH_BYTES]],
    ['one piece over BATCH_BYTES goes whole', [BATCH_BYTES * 3], [BATCH_BYTES * 3]],
    ['pieces reaching BATCH_BYTES', [BATCH_BYTES - 1, 1], [BATCH_BYTES]],
    ['pieces passing BATCH_BYTES', [BATCH_BYTES - 1, 2, 5], [BATCH_BYTES + 1]],
  ])('%s: sent synchronously', (_name, sizes, sentSizes) => {
    const { out, sent } = capped(64 << 20);
    sizes.forEach((size, i) => out.push(chunk(i, size)));
    expect(sent.map((m) => m.length)).toEqual(sentSizes);
  });

  it('keeps order across a synchronous batch and the turn’s scheduled flush', async () => {
    const { out, sent } = capped(64 << 20);
    const pieces = [Buffer.from('x'), chunk(1, BATCH_BYTES), Buffer.from('y')];
    out.push(pieces[0]!); // schedules a flush
    out.push(pieces[1]!); // reaches a batch: both go now
    out.push(pieces[2]!); // pending again
    expect(sent.map((m) => m.length)).toEqual([BATCH_BYTES + 1]);
    await turn();
    await turn();
    expect(sent.map((m) => m.length)).toEqual([BATCH_BYTES + 1, 1]);
    expectBytes(Buffer.concat(sent), Buffer.concat(pieces));
  });

  it('flush() sends what is pending at once and only once', async () => {
    const { out, sent } = capped(100);
    out.push(Buffer.from('tail'));
    out.flush();
    expect(sent.map(String)).toEqual(['tail']);
    out.flush();
    await turn();
    expect(sent.map(String)).toEqual(['tail']);
  });

  it('flush() with nothing pending sends nothing', () => {
    const { out, sent } = capped(100);
    out.flush();
    out.push(Buffer.alloc(0));
    out.flush();
    expect(sent).toEqual([]);
  });

  it('a limit cut mid-batch sends exactly the kept prefix', async () => {
    const { out, sent } = capped(5);
    out.push(Buffer.from('abc'));
    out.push(Buffer.from('defgh'));
    out.push(Buffer.from('ijk'));
    await turn();
    expect(sent.map(String)).toEqual(['abcde']);
    expect(out.totalBytes).toBe(11);
  });
});
