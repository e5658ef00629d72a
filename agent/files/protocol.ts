// The framed protocol between the agent and its file worker (agent/files/worker/main.ts), over
// the worker's stdin and stdout: [u32 body length][u32 op id][u8 kind][payload]. Both sides use
// this one codec (the worker is its own esbuild entry and imports it). Frames are checked
// before they are buffered: the worker runs as the user's uid, so its output is untrusted.

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

/** "uid:gid" the worker takes as its effective ids at start (absent: it keeps the agent's). */
export const WORKER_IDENTITY_VARIABLE = 'RUNBOX_FILE_WORKER_IDENTITY';

export const HEADER_BYTES = 9;
/** Bytes per data frame: large enough for throughput, small next to the 4 MiB message limit. */
export const CHUNK_BYTES = 256 * 1024;
/** A ListDir page ends once its entries come near this many bytes (the response must fit 4 MiB). */
export const LIST_PAGE_BYTES = 3 << 20;
/** The largest payload either side sends (a data chunk, a list page as JSON, with headroom). */
export const MAX_PAYLOAD_BYTES = 8 << 20;

const KINDS_TO_WORKER: ReadonlySet<number> = new Set(Object.values(TO_WORKER));
const KINDS_FROM_WORKER: ReadonlySet<number> = new Set(Object.values(FROM_WORKER));

/** A frame that breaks the protocol: the peer is broken or hostile and must be dropped. */
export class FrameError extends Error {}

export function frame(id: number, kind: number, payload?: Uint8Array): Buffer {
  const header = Buffer.allocUnsafe(HEADER_BYTES);
  header.writeUInt32BE(HEADER_BYTES - 4 + (payload?.length ?? 0), 0);
  header.writeUInt32BE(id, 4);
  header.writeUInt8(kind, 8);
  return payload && payload.length > 0 ? Buffer.concat([header, payload]) : header;
}

export function jsonFrame(id: number, kind: number, value: unknown): Buffer {
  return frame(id, kind, Buffer.from(JSON.stringify(value)));
}

/**
 * Splits a byte stream into frames without copying more than one frame at a time. Throws
 * FrameError (and stops) on a length under the header, over the cap, or an unknown kind:
 * the length is checked before anything is buffered for it.
 */
export class FrameReader {
  #chunks: Buffer[] = [];
  #length = 0;
  #broken = false;

  constructor(
    private readonly kinds: ReadonlySet<number>,
    private readonly onFrame: (id: number, kind: number, payload: Buffer) => void,
  ) {}

  static fromWorker(onFrame: (id: number, kind: number, payload: Buffer) => void): FrameReader {
    return new FrameReader(KINDS_FROM_WORKER, onFrame);
  }

  static toWorker(onFrame: (id: number, kind: number, payload: Buffer) => void): FrameReader {
    return new FrameReader(KINDS_TO_WORKER, onFrame);
  }

  push(chunk: Buffer): void {
    if (this.#broken) throw new FrameError('the stream already broke the protocol');
    this.#chunks.push(chunk);
    this.#length += chunk.length;
    for (;;) {
      if (this.#length < HEADER_BYTES) return;
      const head = this.#take(HEADER_BYTES, false);
      const body = head.readUInt32BE(0);
      const kind = head.readUInt8(8);
      if (body < HEADER_BYTES - 4) this.#fail(`frame length ${body} is shorter than its ${HEADER_BYTES - 4}-byte header`);
      if (body - (HEADER_BYTES - 4) > MAX_PAYLOAD_BYTES)
        this.#fail(`frame payload of ${body - (HEADER_BYTES - 4)} bytes is over the ${MAX_PAYLOAD_BYTES}-byte cap`);
      if (!this.kinds.has(kind)) this.#fail(`unknown frame kind ${kind}`);
      const total = 4 + body;
      if (this.#length < total) return;
      const whole = this.#take(total, true);
      this.onFrame(whole.readUInt32BE(4), kind, whole.subarray(HEADER_BYTES));
    }
  }

  #fail(message: string): never {
    this.#broken = true;
    this.#chunks = [];
    this.#length = 0;
    throw new FrameError(message);
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
  /** The name, or its display form when `rawName` is set (see names.ts). */
  name: string;
  /** Base64 of the name's exact bytes, only when they are not valid UTF-8 (JSON strings cannot hold them). */
  rawName?: string;
  type: 'file' | 'directory' | 'symlink' | 'other';
  size: number;
  mode: number;
  mtimeMs: number;
  uid: number;
  target: string;
}

/**
 * One ListDir page as the worker sends it. `next`, when more follow, is the last name looked at
 * as base64url of its bytes: the page token, which comes back as the next call's `after`.
 */
export interface WorkerListPage {
  entries: WorkerFileInfo[];
  next?: string;
}

export interface WorkerFailure {
  code: string;
  syscall: string;
  message: string;
}
