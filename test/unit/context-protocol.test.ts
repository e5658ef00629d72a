// The agent's side of the context driver protocol: end markers found whatever the chunking,
// event lines bounded and checked, results counted and cut into pieces.
import { describe, expect, it } from 'vitest';
import { MarkerSplitter } from '../../agent/context/marker.js';
import { LineReader, parseEvent } from '../../agent/context/protocol.js';
import { PIECE_BYTES, ResultBudget, resultMessages } from '../../agent/context/results.js';

const MARKER = Buffer.from('\u0000runbox-cell-end-0123456789abcdef\u0000', 'latin1');

/** Feeds `chunks` through a splitter watching MARKER; returns what came out and when the marker was seen. */
function split(chunks: Buffer[]): { data: string; seenAfter: string | undefined } {
  let data = '';
  let seenAfter: string | undefined;
  const splitter = new MarkerSplitter(
    (d) => (data += d.toString('latin1')),
    () => (seenAfter = data),
  );
  splitter.expect(MARKER);
  for (const chunk of chunks) splitter.push(chunk);
  splitter.flush();
  return { data, seenAfter };
}

/** `text` cut into pieces at every given offset. */
const cut = (text: Buffer, ...at: number[]) =>
  [0, ...at, text.length].slice(1).map((end, i, ends) => text.subarray(i === 0 ? 0 : ends[i - 1], end));

describe('MarkerSplitter', () => {
  const whole = Buffer.concat([Buffer.from('before\n'), MARKER, Buffer.from('after')]);
  it.each<[string, Buffer[]]>([
    ['one chunk', [whole]],
    ['marker split in two', cut(whole, 10)],
    ['every byte its own chunk', [...whole].map((b) => Buffer.from([b]))],
    ['marker starts a chunk', cut(whole, 7)],
    ['marker ends a chunk', cut(whole, 7 + MARKER.length)],
  ])('finds the marker in %s, cuts it out, keeps the order', (_name, chunks) => {
    expect(split(chunks)).toEqual({ data: 'before\nafter', seenAfter: 'before\n' });
  });

  it('passes on a prefix of the marker that turns out not to be one', () => {
    const fake = Buffer.concat([MARKER.subarray(0, 10), Buffer.from('x'), MARKER]);
    expect(split(cut(fake, 10))).toEqual({
      data: `${MARKER.subarray(0, 10).toString('latin1')}x`,
      seenAfter: `${MARKER.subarray(0, 10).toString('latin1')}x`,
    });
  });

  it('holds back at most the marker length minus one, and flush hands it over', () => {
    const held: string[] = [];
    const splitter = new MarkerSplitter(
      (d) => held.push(d.toString('latin1')),
      () => undefined,
    );
    splitter.expect(MARKER);
    splitter.push(Buffer.concat([Buffer.from('abc'), MARKER.subarray(0, MARKER.length - 1)]));
    expect(held).toEqual(['abc']);
    splitter.cancel();
    expect(held.join('')).toBe(`abc${MARKER.subarray(0, MARKER.length - 1).toString('latin1')}`);
  });

  it('passes everything through when no marker is expected', () => {
    let data = '';
    const splitter = new MarkerSplitter(
      (d) => (data += d.toString('latin1')),
      () => {
        throw new Error('no marker was expected');
      },
    );
    splitter.push(Buffer.concat([Buffer.from('x'), MARKER]));
    expect(data).toBe(`x${MARKER.toString('latin1')}`);
  });
});

describe('LineReader', () => {
  const read = (limit: number, chunks: string[]) => {
    const lines: string[] = [];
    const overflows: number[] = [];
    const reader = new LineReader(
      () => limit,
      (l) => lines.push(l),
      (n) => overflows.push(n),
    );
    for (const chunk of chunks) reader.push(Buffer.from(chunk));
    return { lines, overflows };
  };
  it.each<[string, number, string[], string[], number[]]>([
    ['lines split across chunks', 100, ['{"a"', ':1}\n{"b":2}\n{"c"', ':3}\n'], ['{"a":1}', '{"b":2}', '{"c":3}'], []],
    ['empty lines are skipped', 100, ['\n\nx\n'], ['x'], []],
    ['an unfinished line is held, not delivered', 100, ['x\ny'], ['x'], []],
    ['a line over the limit is skipped whole and reported', 5, ['ok\n1234567890', '12\nok2\n'], ['ok', 'ok2'], [12]],
    ['a line exactly at the limit passes', 5, ['12345\n'], ['12345'], []],
  ])('%s', (_name, limit, chunks, lines, overflows) => {
    expect(read(limit, chunks)).toEqual({ lines, overflows });
  });
});

describe('parseEvent', () => {
  it.each<[string, string, unknown]>([
    ['ready', '{"ev":"ready","version":"IPython 8"}', { ev: 'ready', version: 'IPython 8' }],
    ['done', '{"ev":"done","seq":3,"status":"ok","count":7}', { ev: 'done', seq: 3, status: 'ok', count: 7 }],
    [
      'done with any other status is an error',
      '{"ev":"done","seq":3,"status":"weird","count":7}',
      { ev: 'done', seq: 3, status: 'error', count: 7 },
    ],
    [
      'display',
      '{"ev":"display","seq":1,"main":true,"data":{"text/plain":{"text":"42"},"image/png":{"b64":"AA=="},"application/json":{"json":[1]}}}',
      {
        ev: 'display',
        seq: 1,
        main: true,
        data: { 'text/plain': { text: '42' }, 'image/png': { b64: 'AA==' }, 'application/json': { json: [1] } },
      },
    ],
    ['not JSON', '{ev', { invalid: 'not JSON' }],
    ['an array', '[1]', { invalid: 'not an object' }],
    ['display without data', '{"ev":"display","seq":1}', { invalid: 'a display event without seq or data' }],
    [
      'display with a value of no known form',
      '{"ev":"display","seq":1,"data":{"text/plain":5}}',
      { invalid: 'a display event without seq or data' },
    ],
    ['negative seq', '{"ev":"error","seq":-1}', { invalid: 'an error event without seq' }],
    ['done without count', '{"ev":"done","seq":1}', { invalid: 'a done event without seq or count' }],
    ['unknown event', '{"ev":"boom"}', { invalid: 'unknown event "boom"' }],
  ])('%s', (_name, line, expected) => {
    expect(parseEvent(line)).toEqual(expected);
  });
});

describe('results', () => {
  it('decodes each form: text as UTF-8, base64 as bytes, JSON as JSON text', () => {
    const budget = new ResultBudget(1000);
    const { data, truncated } = budget.take({
      'text/plain': { text: 'é' },
      'image/png': { b64: 'iVBORw==' },
      'application/json': { json: { a: [1] } },
    });
    expect(truncated).toBe(false);
    expect(Object.fromEntries(data.map(([m, b]) => [m, [...b]]))).toEqual({
      'text/plain': [0xc3, 0xa9],
      'image/png': [0x89, 0x50, 0x4e, 0x47],
      'application/json': [...Buffer.from('{"a":[1]}')],
    });
  });

  it('keeps only a cut text/plain of a result over the budget, and says so', () => {
    const budget = new ResultBudget(2000);
    expect(budget.take({ 'text/plain': { text: 'small' } }).truncated).toBe(false);
    const big = budget.take({ 'text/plain': { text: 'x'.repeat(1500) }, 'text/html': { text: 'y'.repeat(1000) } });
    expect(big.truncated).toBe(true);
    expect(big.data.map(([m, b]) => [m, b.length])).toEqual([['text/plain', 1024]]);
    expect(budget.truncated).toBe(true);
  });

  it('sends a result under the piece size as one message', () => {
    const messages = resultMessages(0, true, [['text/plain', Buffer.from('42')]], false);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatchObject({ index: 0, isMain: true, partial: false });
  });

  it('cuts a big result into pieces of at most PIECE_BYTES, all partial but the last', () => {
    const png = Buffer.alloc(PIECE_BYTES * 2 + 10, 1);
    const messages = resultMessages(
      3,
      false,
      [
        ['text/plain', Buffer.from('fig')],
        ['image/png', png],
      ],
      false,
    );
    expect(messages.map((m) => m.partial)).toEqual([true, true, false]);
    for (const m of messages) expect(m.data.reduce((n, d) => n + d.data.length, 0)).toBeLessThanOrEqual(PIECE_BYTES);
    const joined = Buffer.concat(messages.flatMap((m) => m.data.filter((d) => d.mimeType === 'image/png').map((d) => d.data)));
    expect(joined.equals(png)).toBe(true);
    expect(new Set(messages.map((m) => m.index))).toEqual(new Set([3]));
  });
});
