// A driver's result (a MIME bundle in its wire form) as Result messages: text as UTF-8, binary
// types as their bytes, JSON types as JSON text. Results count against the cell's
// result_limit_bytes; one that does not fit keeps only a cut text/plain and is marked
// truncated. A result bigger than a message may be (other languages' gRPC clients take 4 MiB
// by default) goes out in pieces with the same index.
import { create } from '@bufbuild/protobuf';
import { MimeDataSchema, ResultSchema, type MimeData, type Result } from '../../proto/gen/runbox/v1/context_pb.js';
import type { WireValue } from './protocol.js';

/** Bytes of MIME data per Result message. */
export const PIECE_BYTES = 2 << 20;
/** What a truncated result keeps of its text/plain. */
const CUT_TEXT_BYTES = 1024;

function bytesOf(value: WireValue): Buffer {
  if ('text' in value) return Buffer.from(value.text, 'utf8');
  if ('b64' in value) return Buffer.from(value.b64, 'base64');
  return Buffer.from(JSON.stringify(value.json) ?? 'null', 'utf8');
}

/** Counts result bytes against one cell's limit. */
export class ResultBudget {
  #used = 0;
  truncated = false;
  constructor(readonly limit: number) {}

  /** The bundle's data as it will be sent, or a cut text/plain when it does not fit. */
  take(bundle: Record<string, WireValue>): { data: [string, Buffer][]; truncated: boolean } {
    const data = Object.entries(bundle).map(([mime, value]): [string, Buffer] => [mime, bytesOf(value)]);
    const size = data.reduce((sum, [mime, bytes]) => sum + mime.length + bytes.length, 0);
    if (this.#used + size <= this.limit) {
      this.#used += size;
      return { data, truncated: false };
    }
    this.truncated = true;
    const text = data.find(([mime]) => mime === 'text/plain')?.[1] ?? Buffer.alloc(0);
    const cut = Buffer.from(
      text
        .subarray(0, CUT_TEXT_BYTES)
        .toString('utf8')
        .replace(/\uFFFD$/, ''),
      'utf8',
    );
    return { data: [['text/plain', cut]], truncated: true };
  }

  /** A result the agent could not even read (a line over the limit): nothing of it is kept. */
  dropped(): void {
    this.truncated = true;
  }
}

/** Result messages for one result, each carrying at most PIECE_BYTES of data. */
export function resultMessages(index: number, isMain: boolean, data: [string, Buffer][], truncated: boolean): Result[] {
  const messages: Result[] = [];
  let current: MimeData[] = [];
  let room = PIECE_BYTES;
  const flush = () => {
    messages.push(create(ResultSchema, { index, isMain, data: current, truncated, partial: true }));
    current = [];
    room = PIECE_BYTES;
  };
  for (const [mimeType, bytes] of data) {
    let offset = 0;
    do {
      if (room === 0) flush();
      const piece = bytes.subarray(offset, offset + room);
      current.push(create(MimeDataSchema, { mimeType, data: piece }));
      offset += piece.length;
      room -= piece.length;
    } while (offset < bytes.length);
  }
  messages.push(create(ResultSchema, { index, isMain, data: current, truncated, partial: false }));
  return messages;
}
