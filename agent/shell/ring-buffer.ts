// The most recent output of a shell session, kept so a re-attaching client can redraw its
// screen. Fixed size: a session that prints for hours costs the agent no more than this.
export class RingBuffer {
  readonly #buffer: Buffer;
  #start = 0;
  #length = 0;
  #dropped = false;

  constructor(readonly capacity: number) {
    this.#buffer = Buffer.alloc(capacity);
  }

  push(chunk: Uint8Array): void {
    if (chunk.length >= this.capacity) {
      this.#dropped ||= chunk.length > this.capacity || this.#length > 0;
      this.#buffer.set(chunk.subarray(chunk.length - this.capacity));
      this.#start = 0;
      this.#length = this.capacity;
      return;
    }
    const overflow = this.#length + chunk.length - this.capacity;
    if (overflow > 0) {
      this.#dropped = true;
      this.#start = (this.#start + overflow) % this.capacity;
      this.#length -= overflow;
    }
    const end = (this.#start + this.#length) % this.capacity;
    const first = Math.min(chunk.length, this.capacity - end);
    this.#buffer.set(chunk.subarray(0, first), end);
    this.#buffer.set(chunk.subarray(first), 0);
    this.#length += chunk.length;
  }

  /** The kept bytes, oldest first, and whether older output was dropped. */
  snapshot(): { bytes: Buffer; truncated: boolean } {
    const tail = Math.min(this.#length, this.capacity - this.#start);
    const bytes = Buffer.concat([this.#buffer.subarray(this.#start, this.#start + tail), this.#buffer.subarray(0, this.#length - tail)]);
    return { bytes, truncated: this.#dropped };
  }
}
