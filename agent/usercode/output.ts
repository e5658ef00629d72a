// Keeps the first `limit` bytes of one output stream and counts the rest. The pipe is
// always drained (the child never blocks on a full pipe) and nothing past the limit is
// held, so the agent's memory stays bounded whatever the program writes.
//
// Kept bytes are forwarded in batches: pieces that arrive in the same turn of the event
// loop (a pipe hands over 64 KiB at a time) go out as one message of up to BATCH_BYTES, so
// a flood costs a sixteenth of the gRPC messages, while a lone line still leaves at once.
// The pieces are forwarded as they are, unjoined: the message encoder copies them once.
export const BATCH_BYTES = 1024 * 1024;

export class CappedOutput {
  #kept = 0;
  #total = 0;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #scheduled = false;

  constructor(
    readonly limit: number,
    /** Receives the kept bytes, in order, in batches: the pieces and their total length. */
    private readonly forward: (pieces: Buffer[], bytes: number) => void,
  ) {}

  push(chunk: Buffer): void {
    this.#total += chunk.length;
    const room = this.limit - this.#kept;
    if (room <= 0) return;
    const piece = chunk.length <= room ? chunk : chunk.subarray(0, room);
    this.#kept += piece.length;
    this.#pending.push(piece);
    this.#pendingBytes += piece.length;
    if (this.#pendingBytes >= BATCH_BYTES) this.flush();
    else if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Forwards whatever is pending. Call when the stream ends, before the stage's result. */
  flush(): void {
    this.#scheduled = false;
    if (this.#pendingBytes === 0) return;
    const pieces = this.#pending;
    const bytes = this.#pendingBytes;
    this.#pending = [];
    this.#pendingBytes = 0;
    this.forward(pieces, bytes);
  }

  /** Every byte the process wrote, including what was cut. */
  get totalBytes(): number {
    return this.#total;
  }

  get truncated(): boolean {
    return this.#total > this.#kept;
  }
}
