// Output flow control of one run's call. Messages go to grpc-js at once; the output bytes it
// has not yet handed to HTTP/2 are counted. Past HIGH_WATER_BYTES the program's pipes stop being
// read (the program blocks on a full pipe, as under ssh), and under LOW_WATER_BYTES they are read
// again, so the transport never runs dry while the pipes refill (pausing until grpc-js's queue
// was empty, as 'drain' would, halved a flood's rate). A client that stops reading stops HTTP/2's
// window, the count stops falling, and the agent holds at most about HIGH_WATER_BYTES plus one
// batch per run, whatever the program writes.
export const HIGH_WATER_BYTES = 4 << 20;
export const LOW_WATER_BYTES = 1 << 20;

/** What OutputFlow needs of a grpc-js server stream. */
export interface FlowCall {
  readonly cancelled: boolean;
  readonly writableEnded: boolean;
  write(message: unknown, done: () => void): boolean;
}

export class OutputFlow {
  #pending = 0;
  #held = false;

  constructor(
    private readonly call: FlowCall,
    /** Told when the pipes should stop (true) or go on (false) being read. */
    private readonly onHold: (held: boolean) => void,
  ) {}

  /** True while the pipes should not be read. */
  get held(): boolean {
    return this.#held;
  }

  /** Writes `message` (carrying `bytes` of output; 0 for the others). Nothing once the call is over. */
  send(message: unknown, bytes = 0): void {
    if (this.call.cancelled || this.call.writableEnded) return;
    this.#pending += bytes;
    this.call.write(message, () => {
      this.#pending -= bytes;
      if (this.#held && this.#pending <= LOW_WATER_BYTES) this.#hold(false);
    });
    if (!this.#held && this.#pending > HIGH_WATER_BYTES) this.#hold(true);
  }

  #hold(held: boolean): void {
    this.#held = held;
    this.onHold(held);
  }
}
