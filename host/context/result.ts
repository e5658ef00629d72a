// Result messages as ContextResults: pieces of one result (same index, `partial`) joined, MIME
// data decoded by type. What the SDK keeps is bounded by the limit the agent said it applies,
// so a misbehaving guest cannot grow host memory with results.
import type { Result } from '../../proto/gen/runbox/v1/context_pb.js';
import type { ContextResult } from './types.js';

/** Types whose data is bytes, not text. */
const BINARY_TYPES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'application/pdf']);

const FIELDS = {
  'text/html': 'html',
  'text/markdown': 'markdown',
  'image/svg+xml': 'svg',
  'text/latex': 'latex',
  'application/javascript': 'javascript',
} as const;

const utf8 = new TextDecoder('utf-8');

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

export function toContextResult(data: Map<string, Uint8Array[]>, isMain: boolean, truncated: boolean): ContextResult {
  const result: ContextResult = { isMain, text: '', data: {}, truncated };
  for (const [mime, parts] of data) {
    const bytes = concat(parts);
    if (BINARY_TYPES.has(mime)) {
      result.data[mime] = bytes;
      if (mime === 'image/png') result.png = bytes;
      if (mime === 'image/jpeg') result.jpeg = bytes;
      continue;
    }
    const text = utf8.decode(bytes);
    result.data[mime] = text;
    if (mime === 'text/plain') result.text = text;
    else if (mime === 'application/json' || mime.endsWith('+json')) {
      if (mime === 'application/json') {
        try {
          result.json = JSON.parse(text) as unknown;
        } catch {
          /* not JSON after all: kept as text in data */
        }
      }
    } else if (mime in FIELDS) result[FIELDS[mime as keyof typeof FIELDS]] = text;
  }
  return result;
}

/** Joins result pieces and counts their bytes against `limit`; what is over it is not kept. */
export class ResultAssembler {
  #pending: { index: number; isMain: boolean; truncated: boolean; data: Map<string, Uint8Array[]> } | undefined;
  #kept = 0;
  /** The agent sent more result bytes than the limit it said it applies. */
  overLimit = false;

  constructor(public limit = Number.POSITIVE_INFINITY) {}

  /** Takes one Result message; returns the ContextResult once its last piece is in. */
  push(message: Result): ContextResult | undefined {
    if (!this.#pending || this.#pending.index !== message.index) {
      this.#pending = { index: message.index, isMain: message.isMain, truncated: message.truncated, data: new Map() };
    }
    const pending = this.#pending;
    for (const { mimeType, data } of message.data) {
      const room = this.limit - this.#kept;
      if (data.length > room) this.overLimit = pending.truncated = true;
      const kept = data.length > room ? data.subarray(0, Math.max(0, room)) : data;
      this.#kept += kept.length;
      const parts = pending.data.get(mimeType) ?? [];
      parts.push(kept);
      pending.data.set(mimeType, parts);
    }
    if (message.partial) return undefined;
    this.#pending = undefined;
    return toContextResult(pending.data, pending.isMain, pending.truncated);
  }
}
