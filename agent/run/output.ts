// Keeps the first `limit` bytes of one output stream and counts the rest. The pipe is
// always drained (the child never blocks on a full pipe) and nothing past the limit is
// held, so the agent's memory stays bounded whatever the program writes.
export class CappedOutput {
  #kept = 0;
  #total = 0;

  constructor(
    readonly limit: number,
    /** Receives each kept piece as it arrives. */
    private readonly forward: (data: Buffer) => void,
  ) {}

  push(chunk: Buffer): void {
    this.#total += chunk.length;
    const room = this.limit - this.#kept;
    if (room <= 0) return;
    const piece = chunk.length <= room ? chunk : chunk.subarray(0, room);
    this.#kept += piece.length;
    this.forward(piece);
  }

  /** Every byte the process wrote, including what was cut. */
  get totalBytes(): number {
    return this.#total;
  }

  get truncated(): boolean {
    return this.#total > this.#kept;
  }
}
