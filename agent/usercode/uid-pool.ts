// The uids per-run isolation hands out (--run-uids). Unused uids go first, then returned ones
// oldest first, so a uid is reused as late as possible.

export class UidPool {
  #next: number;
  readonly #returned: number[] = [];
  readonly #taken = new Set<number>();

  constructor(
    readonly first: number,
    readonly last: number,
  ) {
    this.#next = first;
  }

  get size(): number {
    return this.last - this.first + 1;
  }
  get inUse(): number {
    return this.#taken.size;
  }

  /** A uid no one else holds, or undefined when all are taken. */
  take(): number | undefined {
    const uid = this.#next <= this.last ? this.#next++ : this.#returned.shift();
    if (uid !== undefined) this.#taken.add(uid);
    return uid;
  }

  /** Returns a taken uid; returning one twice, or one never taken, is a bug and throws. */
  give(uid: number): void {
    if (!this.#taken.delete(uid)) throw new Error(`uid ${uid} was not taken from the pool`);
    this.#returned.push(uid);
  }
}
