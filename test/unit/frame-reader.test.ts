// The file worker's frame codec (agent/files/protocol.ts): frames come out whole however the
// byte stream is cut (a header split, a payload split, several frames in one chunk), and a
// frame that breaks the protocol (length under the header, payload over the cap, unknown kind)
// is refused before anything is buffered for it, after which the reader stays broken.
import { describe, expect, it } from 'vitest';
import {
  FROM_WORKER,
  FrameError,
  FrameReader,
  HEADER_BYTES,
  MAX_PAYLOAD_BYTES,
  TO_WORKER,
  frame,
  jsonFrame,
} from '../../agent/files/protocol.js';

type Seen = [id: number, kind: number, payload: string];
type OnFrame = (id: number, kind: number, payload: Buffer) => void;
const fromWorker = (onFrame: OnFrame) => FrameReader.fromWorker(onFrame);
const toWorker = (onFrame: OnFrame) => FrameReader.toWorker(onFrame);

/** Feeds `chunks` to a reader of worker frames; returns the frames it emitted, in order. */
function read(chunks: Buffer[], reader: (onFrame: (id: number, kind: number, p: Buffer) => void) => FrameReader = fromWorker): Seen[] {
  const seen: Seen[] = [];
  const r = reader((id, kind, payload) => seen.push([id, kind, payload.toString('latin1')]));
  for (const chunk of chunks) r.push(chunk);
  return seen;
}

/** `bytes` cut at the given offsets. */
function cut(bytes: Buffer, ...at: number[]): Buffer[] {
  const points = [0, ...at, bytes.length];
  return points.slice(1).map((end, i) => bytes.subarray(points[i], end));
}

const A = frame(7, FROM_WORKER.data, Buffer.from('hello'));
const B = jsonFrame(8, FROM_WORKER.ok, { size: 3 });
const EOF = frame(7, FROM_WORKER.eof);
const BOTH = Buffer.concat([A, B, EOF]);
const ALL: Seen[] = [
  [7, FROM_WORKER.data, 'hello'],
  [8, FROM_WORKER.ok, '{"size":3}'],
  [7, FROM_WORKER.eof, ''],
];

describe('FrameReader: frames whole, however the stream is cut', () => {
  it.each<[string, Buffer[], Seen[]]>([
    ['one frame in one chunk', [A], ALL.slice(0, 1)],
    ['a frame without payload', [EOF], ALL.slice(2)],
    ['several frames in one chunk', [BOTH], ALL],
    ['the length prefix split', cut(A, 2), ALL.slice(0, 1)],
    ['the header split after the length (id and kind in the next chunk)', cut(A, 4), ALL.slice(0, 1)],
    ['the header split before the kind', cut(A, HEADER_BYTES - 1), ALL.slice(0, 1)],
    ['the payload split', cut(A, HEADER_BYTES + 2), ALL.slice(0, 1)],
    ['a frame ending mid-chunk, the next one split', cut(BOTH, A.length + 3), ALL],
    ['one byte at a time', [...BOTH].map((byte) => Buffer.from([byte])), ALL],
    ['an empty chunk between', [A.subarray(0, 3), Buffer.alloc(0), A.subarray(3)], ALL.slice(0, 1)],
  ])('%s', (_what, chunks, frames) => {
    expect(read(chunks)).toEqual(frames);
  });

  it('a payload of exactly the cap is accepted; a frame is emitted only once all of it is there', () => {
    const big = frame(1, FROM_WORKER.data, Buffer.alloc(MAX_PAYLOAD_BYTES, 0x61));
    const seen: number[] = [];
    const r = FrameReader.fromWorker((_id, _kind, payload) => seen.push(payload.length));
    r.push(big.subarray(0, big.length - 1));
    expect(seen).toEqual([]);
    r.push(big.subarray(big.length - 1));
    expect(seen).toEqual([MAX_PAYLOAD_BYTES]);
  });

  it('reads each direction with its own kinds', () => {
    const call = jsonFrame(3, TO_WORKER.call, { op: 'stat' });
    expect(read([call], toWorker)).toEqual([[3, TO_WORKER.call, '{"op":"stat"}']]);
    expect(() => read([call])).toThrow(`unknown frame kind ${TO_WORKER.call}`);
    expect(() => read([A], toWorker)).toThrow(`unknown frame kind ${FROM_WORKER.data}`);
  });
});

/** A raw header: body length, id, kind (no payload follows). */
function header(body: number, kind: number): Buffer {
  const h = Buffer.alloc(HEADER_BYTES);
  h.writeUInt32BE(body, 0);
  h.writeUInt32BE(1, 4);
  h.writeUInt8(kind, 8);
  return h;
}

describe('FrameReader: bounds', () => {
  it.each<[string, Buffer, string]>([
    ['a zero length', header(0, FROM_WORKER.ok), 'frame length 0 is shorter than its 5-byte header'],
    ['a length one short of the header', header(4, FROM_WORKER.ok), 'frame length 4 is shorter than its 5-byte header'],
    [
      'a payload one byte over the cap',
      header(MAX_PAYLOAD_BYTES + 5 + 1, FROM_WORKER.data),
      `frame payload of ${MAX_PAYLOAD_BYTES + 1} bytes is over the ${MAX_PAYLOAD_BYTES}-byte cap`,
    ],
    ['a 4 GiB length prefix', header(0xffffffff, FROM_WORKER.data), `frame payload of ${0xffffffff - 5} bytes is over the`],
    ['kind 0', header(5, 0), 'unknown frame kind 0'],
    ['a kind between the two directions', header(5, 15), 'unknown frame kind 15'],
    ['kind 255', header(5, 255), 'unknown frame kind 255'],
  ])('refuses %s from its header alone', (_what, bad, message) => {
    const seen: Seen[] = [];
    const r = FrameReader.fromWorker((id, kind, payload) => seen.push([id, kind, payload.toString('latin1')]));
    // A good frame first, the bad header after it in the same chunk: the good one still comes out.
    expect(() => r.push(Buffer.concat([A, bad]))).toThrow(FrameError);
    expect(seen).toEqual(ALL.slice(0, 1));
    expect(() => read([bad])).toThrow(message);
    // Broken for good: nothing more is read from this stream.
    expect(() => r.push(EOF)).toThrow('the stream already broke the protocol');
    expect(seen).toEqual(ALL.slice(0, 1));
  });

  it('a bad header split across chunks is refused once its 9 bytes are there, not before', () => {
    const r = FrameReader.fromWorker(() => {});
    const bad = header(0xffffffff, FROM_WORKER.data);
    r.push(bad.subarray(0, HEADER_BYTES - 1));
    expect(() => r.push(bad.subarray(HEADER_BYTES - 1))).toThrow(FrameError);
  });
});
