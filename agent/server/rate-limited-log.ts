// A log event that a peer can trigger at will (a refused connection, a wrong token) is
// written at most `perSecond` times a second; the rest are counted and the count is written
// with the next line that gets through, so a flood costs the log one line a second.
import { log } from '../core/log.js';

type Fields = Record<string, string | number | boolean | undefined>;

export class RateLimitedLog {
  #windowStart = 0;
  #written = 0;
  #suppressed = 0;

  constructor(
    readonly event: string,
    readonly perSecond: number,
  ) {}

  write(fields: Fields): void {
    const now = Date.now();
    if (now - this.#windowStart >= 1000) {
      this.#windowStart = now;
      this.#written = 0;
    }
    if (this.#written >= this.perSecond) {
      this.#suppressed++;
      return;
    }
    this.#written++;
    const suppressed = this.#suppressed;
    this.#suppressed = 0;
    log.warn(this.event, suppressed > 0 ? { ...fields, suppressed } : fields);
  }
}
