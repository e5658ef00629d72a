// One cleanup stack for work that creates things step by step (a VM's directory, namespace,
// QEMU, forwarder): each step registers how to undo itself as it succeeds; `run` undoes them
// in reverse, once, whether the work failed halfway or is being ended later.

export class CleanupStack {
  readonly #undo: { what: string; fn: () => Promise<void> | void }[] = [];
  #ran: Promise<Error[]> | undefined;

  /** Registers how to undo the step that just succeeded. */
  defer(what: string, fn: () => Promise<void> | void): void {
    if (this.#ran) throw new Error(`cleanup already ran; cannot defer "${what}"`);
    this.#undo.push({ what, fn });
  }

  /** Undoes every step, last first; one failing undo does not stop the others. Idempotent. */
  run(): Promise<Error[]> {
    this.#ran ??= (async () => {
      const failures: Error[] = [];
      for (const { what, fn } of this.#undo.reverse()) {
        try {
          await fn();
        } catch (error) {
          failures.push(new Error(`cleanup "${what}": ${(error as Error).message}`, { cause: error }));
        }
      }
      return failures;
    })();
    return this.#ran;
  }
}
