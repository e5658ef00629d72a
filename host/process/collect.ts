// Output bytes of one stream as they arrive. Text is decoded lazily: per chunk only while a
// listener wants it, the whole result once on first read.

/** Joins chunks; one chunk comes back as a view (no copy), always as a plain Uint8Array. */
export function concat(chunks: Uint8Array[]): Uint8Array {
  // One piece (a run without a compile stage): a view, no copy — and a plain Uint8Array
  // even when gRPC handed us a Buffer.
  if (chunks.length === 1) return new Uint8Array(chunks[0]!.buffer, chunks[0]!.byteOffset, chunks[0]!.length);
  const total = chunks.reduce((n, c) => n + c.length, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.length;
  }
  return out;
}

/**
 * One stream's bytes. Text is decoded per chunk only while someone listens (a streaming
 * TextDecoder, so a character split across chunks comes out whole); the result's text is
 * decoded once, on first access. Decoding every chunk of a large output eagerly cost the
 * SDK three quarters of its throughput.
 */
export class StreamCollector {
  readonly chunks: Uint8Array[] = [];
  #decoder: InstanceType<typeof TextDecoder> | undefined;
  #kept = 0;
  /** The agent sent more than the limit the run was started with: the excess was not kept. */
  overLimit = false;

  /**
   * `limit` is the output limit the agent said it applies (Started.limits): the SDK keeps no
   * more than that whatever the agent sends, so a misbehaving guest cannot grow host memory.
   */
  constructor(public limit = Number.POSITIVE_INFINITY) {}

  /** Stores a chunk (up to the limit); returns its text when `decode` (listeners present), else ''. */
  push(bytes: Uint8Array, decode: boolean): string {
    if (decode && !this.#decoder) {
      // A listener arrived mid-stream: bring a decoder up to this point first.
      this.#decoder = new TextDecoder('utf-8');
      for (const chunk of this.chunks) this.#decoder.decode(chunk, { stream: true });
    }
    const room = this.limit - this.#kept;
    if (bytes.length > room) this.overLimit = true;
    const kept = bytes.length > room ? bytes.subarray(0, Math.max(0, room)) : bytes;
    if (kept.length > 0) {
      this.chunks.push(kept);
      this.#kept += kept.length;
    }
    // Listeners get everything: they stream it, the SDK keeps nothing of it.
    return this.#decoder ? this.#decoder.decode(bytes, { stream: true }) : '';
  }

  finish(): Uint8Array {
    return concat(this.chunks);
  }
}

/** UTF-8 text of bytes, computed on first read and kept. */
export function lazyText(bytes: () => Uint8Array): () => string {
  let text: string | undefined;
  return () => (text ??= new TextDecoder('utf-8').decode(bytes()));
}
