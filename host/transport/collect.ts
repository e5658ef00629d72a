// Output bytes of one stream as they arrive. Text is decoded lazily: per chunk only while a
// listener wants it, the whole result once on first read.

const EMPTY = new Uint8Array(0);

/** Joins chunks; one non-empty chunk comes back as a view (no copy), always as a plain Uint8Array. */
export function concat(chunks: Uint8Array[]): Uint8Array {
  const parts = chunks.filter((c) => c.length > 0);
  // One piece (a run without compile output): a view, no copy — and a plain Uint8Array
  // even when gRPC handed us a Buffer.
  if (parts.length <= 1) return parts[0] ? new Uint8Array(parts[0].buffer, parts[0].byteOffset, parts[0].length) : EMPTY;
  const total = parts.reduce((n, c) => n + c.length, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const c of parts) {
    out.set(c, offset);
    offset += c.length;
  }
  return out;
}

/** An ArrayBuffer that grows in place (ES2024; Node 20). Not in the ES2022 lib this project compiles against. */
interface ResizableArrayBuffer extends ArrayBuffer {
  resize(byteLength: number): void;
}
type ResizableConstructor = new (byteLength: number, options: { maxByteLength: number }) => ResizableArrayBuffer;
const Resizable = 'resize' in ArrayBuffer.prototype ? (ArrayBuffer as unknown as ResizableConstructor) : undefined;

/**
 * Bytes appended up to a known maximum. The first piece is kept as it came (a lone message
 * costs no copy); from the second on they are copied into one buffer that grows in place
 * (a resizable ArrayBuffer reserved at the maximum: each page is touched once, there is no
 * final join), or by doubling where resizable buffers are missing (Node 18). Joining 256 MiB
 * of chunks at the end cost a flood a tenth of its time and held the output twice.
 */
class GrowableBytes {
  #first: Uint8Array | undefined;
  #buffer: Uint8Array | undefined;
  #resizable: ResizableArrayBuffer | undefined;
  #length = 0;

  constructor(private readonly maximum: number) {}

  append(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    if (this.#length === 0) {
      this.#first = bytes;
      this.#length = bytes.length;
      return;
    }
    const needed = this.#length + bytes.length;
    const buffer = this.#room(needed);
    buffer.set(bytes, this.#length);
    this.#length = needed;
  }

  /** A buffer holding the bytes so far with room for `needed`. */
  #room(needed: number): Uint8Array {
    if (this.#first) {
      const first = this.#first;
      this.#first = undefined;
      if (Resizable && Number.isSafeInteger(this.maximum)) {
        this.#resizable = new Resizable(needed, { maxByteLength: Math.max(needed, this.maximum) });
        this.#buffer = new Uint8Array(this.#resizable);
      } else this.#buffer = new Uint8Array(Math.max(needed, 2 * first.length));
      this.#buffer.set(first);
      return this.#buffer;
    }
    if (this.#resizable) {
      if (needed > this.#resizable.byteLength) this.#resizable.resize(needed);
      return (this.#buffer = new Uint8Array(this.#resizable, 0, needed));
    }
    if (needed > this.#buffer!.length) {
      const grown = new Uint8Array(Math.max(needed, 2 * this.#buffer!.length));
      grown.set(this.#buffer!.subarray(0, this.#length));
      this.#buffer = grown;
    }
    return this.#buffer!;
  }

  get length(): number {
    return this.#length;
  }

  /** The bytes: a view, no copy (a plain Uint8Array even when gRPC handed us a Buffer). */
  view(): Uint8Array {
    const source = this.#first ?? this.#buffer;
    return source ? new Uint8Array(source.buffer, source.byteOffset, this.#length) : EMPTY;
  }
}

/**
 * One stream's bytes, kept up to the limit. Text is decoded per chunk only while someone
 * listens (a streaming TextDecoder, so a character split across chunks comes out whole); the
 * result's text is decoded once, on first access.
 */
export class StreamCollector {
  #bytes: GrowableBytes | undefined;
  #decoder: InstanceType<typeof TextDecoder> | undefined;
  /** The agent sent more than the limit the run was started with: the excess was not kept. */
  overLimit = false;

  /**
   * `limit` is the output limit the agent said it applies (Started.limits): the SDK keeps no
   * more than that whatever the agent sends, so a misbehaving guest cannot grow host memory.
   * `keep` false: nothing is kept at all (the caller only streams).
   */
  constructor(
    public limit = Number.POSITIVE_INFINITY,
    public keep = true,
  ) {}

  /** Stores a chunk (up to the limit); returns its text when `decode` (listeners present), else ''. */
  push(bytes: Uint8Array, decode: boolean): string {
    if (decode && !this.#decoder) {
      // A listener arrived mid-stream: bring a decoder up to this point first.
      this.#decoder = new TextDecoder('utf-8');
      this.#decoder.decode(this.finish(), { stream: true });
    }
    if (this.keep) this.#store(bytes);
    // Listeners get everything: they stream it, the SDK keeps nothing of it.
    return this.#decoder ? this.#decoder.decode(bytes, { stream: true }) : '';
  }

  #store(bytes: Uint8Array): void {
    const kept = this.#bytes?.length ?? 0;
    const room = this.limit - kept;
    if (bytes.length > room) this.overLimit = true;
    const piece = bytes.length > room ? bytes.subarray(0, Math.max(0, room)) : bytes;
    if (piece.length > 0) (this.#bytes ??= new GrowableBytes(this.limit)).append(piece);
  }

  /** The kept bytes: a view, no copy. */
  finish(): Uint8Array {
    return this.#bytes?.view() ?? EMPTY;
  }
}

/** UTF-8 text of bytes, computed on first read and kept. */
export function lazyText(bytes: () => Uint8Array): () => string {
  let text: string | undefined;
  return () => (text ??= new TextDecoder('utf-8').decode(bytes()));
}
