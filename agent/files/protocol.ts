// The framed protocol between the agent and its file worker (agent/files/worker.ts), over
// the worker's stdin and stdout: [u32 body length][u32 op id][u8 kind][payload].
// The worker carries its own copy of the framing code: it runs from its source text.

/** Agent → worker. */
export const TO_WORKER = {
  /** Start an op: JSON { op, ...arguments }. */
  call: 1,
  /** A chunk of a file being written. */
  data: 2,
  /** The file being written is complete. */
  end: 3,
  /** Stop the op (client cancelled); the worker answers nothing more for it. */
  abort: 4,
  /** Read op: the agent can take this many more chunks (u32). */
  credit: 5,
} as const;

/** Worker → agent. */
export const FROM_WORKER = {
  /** The op succeeded: JSON result. */
  ok: 16,
  /** The op failed: JSON { code, syscall, message }. */
  fail: 17,
  /** A chunk of a file being read. */
  data: 18,
  /** A written chunk reached the file (frees window). */
  ack: 19,
  /** Read op: the whole file was sent. */
  eof: 20,
  /** Read op: JSON file info, before the data. Write op: the file is open, send data. */
  ready: 21,
} as const;

export const HEADER_BYTES = 9;
/** Bytes per data frame: large enough for throughput, small next to the 16 MiB message cap. */
export const CHUNK_BYTES = 256 * 1024;

export function frame(id: number, kind: number, payload?: Uint8Array): Buffer {
  const header = Buffer.allocUnsafe(HEADER_BYTES);
  header.writeUInt32BE(5 + (payload?.length ?? 0), 0);
  header.writeUInt32BE(id, 4);
  header.writeUInt8(kind, 8);
  return payload && payload.length > 0 ? Buffer.concat([header, payload]) : header;
}

export function jsonFrame(id: number, kind: number, value: unknown): Buffer {
  return frame(id, kind, Buffer.from(JSON.stringify(value)));
}

/** Splits a byte stream into frames without copying more than one frame at a time. */
export class FrameReader {
  #chunks: Buffer[] = [];
  #length = 0;
  constructor(private readonly onFrame: (id: number, kind: number, payload: Buffer) => void) {}

  push(chunk: Buffer): void {
    this.#chunks.push(chunk);
    this.#length += chunk.length;
    for (;;) {
      if (this.#length < 4) return;
      const head = this.#chunks[0]!.length >= 4 ? this.#chunks[0]! : this.#take(4, false);
      const total = 4 + head.readUInt32BE(0);
      if (this.#length < total) return;
      const body = this.#take(total, true);
      this.onFrame(body.readUInt32BE(4), body.readUInt8(8), body.subarray(HEADER_BYTES));
    }
  }

  /** The first `n` bytes as one buffer; consumed when `consume`. */
  #take(n: number, consume: boolean): Buffer {
    const first = this.#chunks[0]!;
    let out: Buffer;
    if (first.length >= n) out = first.subarray(0, n);
    else {
      const parts: Buffer[] = [];
      let got = 0;
      for (const c of this.#chunks) {
        parts.push(c.subarray(0, n - got));
        got += Math.min(c.length, n - got);
        if (got === n) break;
      }
      out = Buffer.concat(parts, n);
    }
    if (consume) {
      let left = n;
      while (left > 0) {
        const c = this.#chunks[0]!;
        if (c.length <= left) {
          this.#chunks.shift();
          left -= c.length;
        } else {
          this.#chunks[0] = c.subarray(left);
          left = 0;
        }
      }
      this.#length -= n;
    }
    return out;
  }
}

/** What the worker reports about a file; the agent turns it into FileInfo. */
export interface WorkerFileInfo {
  path: string;
  name: string;
  type: 'file' | 'directory' | 'symlink' | 'other';
  size: number;
  mode: number;
  mtimeMs: number;
  uid: number;
  target: string;
}

export interface WorkerFailure {
  code: string;
  syscall: string;
  message: string;
}
