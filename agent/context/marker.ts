// Where a cell's output ends. stdout and stderr of a context are pipes the agent reads directly
// (so output of C code and child processes is captured), separate from the driver's event
// channel; to know which bytes belong to a cell, the driver writes the cell's end marker (random,
// fresh per cell) to each stream after flushing it. This splitter finds the marker in a stream
// whatever the chunking, passes every other byte on in order and cuts the marker out. At most
// marker.length - 1 bytes are held back, and only while they could be the marker's beginning.

export class MarkerSplitter {
  #marker: Buffer | undefined;
  #held: Buffer = Buffer.alloc(0);

  constructor(
    /** Bytes of the stream, in order, without markers. */
    private readonly onData: (data: Buffer) => void,
    /** The expected marker went by: everything before it has been passed to onData. */
    private readonly onMarker: () => void,
  ) {}

  /** Watch for `marker` from now on (one at a time). */
  expect(marker: Buffer): void {
    this.#marker = marker;
  }

  /** Stop watching; whatever was held back is passed on. */
  cancel(): void {
    this.#marker = undefined;
    this.flush();
  }

  flush(): void {
    if (this.#held.length === 0) return;
    const held = this.#held;
    this.#held = Buffer.alloc(0);
    this.onData(held);
  }

  push(chunk: Buffer): void {
    const data = this.#held.length === 0 ? chunk : Buffer.concat([this.#held, chunk]);
    this.#held = Buffer.alloc(0);
    const marker = this.#marker;
    if (!marker) {
      if (data.length > 0) this.onData(data);
      return;
    }
    const at = data.indexOf(marker);
    if (at >= 0) {
      if (at > 0) this.onData(data.subarray(0, at));
      this.#marker = undefined;
      this.onMarker();
      const rest = data.subarray(at + marker.length);
      if (rest.length > 0) this.push(rest);
      return;
    }
    const keep = prefixAtEnd(data, marker);
    if (data.length > keep) this.onData(data.subarray(0, data.length - keep));
    if (keep > 0) this.#held = Buffer.from(data.subarray(data.length - keep));
  }
}

/** Length of the longest end of `data` that is a beginning of `marker` (shorter than the marker). */
function prefixAtEnd(data: Buffer, marker: Buffer): number {
  for (let length = Math.min(marker.length - 1, data.length); length > 0; length--) {
    if (data.subarray(data.length - length).equals(marker.subarray(0, length))) return length;
  }
  return 0;
}
