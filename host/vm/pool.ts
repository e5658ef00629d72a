// A warm pool: K sandboxes of one image restored, claimed and ready, so `take()` hands one
// out at once and the pool refills behind it, one restore at a time (a bounded load on the
// host). The pool owns what it holds; a sandbox it handed out is the caller's. `close()` ends
// every sandbox still in the pool; VMs of a process that exits without closing it are ended
// by the exit hook every local VM has.
import { AbortError, InvalidArgumentError } from '../errors.js';
import { createSandbox, type CreateOptions, type LocalSandbox } from './create.js';

/** The largest pool: every pooled VM holds its memory. */
export const MAX_POOL_SIZE = 16;

export interface PoolOptions extends Omit<CreateOptions, 'token' | 'signal' | 'pool'> {
  /** Sandboxes kept ready (1 to 16). */
  size: number;
}

export class SandboxPool {
  readonly image: string;
  readonly size: number;
  readonly #options: Omit<PoolOptions, 'size'>;
  readonly #ready: LocalSandbox[] = [];
  readonly #waiting: { resolve: (sb: LocalSandbox) => void; reject: (error: unknown) => void }[] = [];
  #filling: Promise<void> | undefined;
  #lastError: unknown;
  #closed = false;

  private constructor(image: string, options: PoolOptions) {
    if (!Number.isInteger(options.size) || options.size < 1 || options.size > MAX_POOL_SIZE) {
      throw new InvalidArgumentError(`size ${options.size}: a pool keeps 1 to ${MAX_POOL_SIZE} sandboxes ready`, {
        metadata: { option: 'size' },
      });
    }
    const { size, ...rest } = options;
    this.image = image;
    this.size = size;
    this.#options = rest;
  }

  /** Starts filling a pool of `image`; resolves once the first sandbox is ready (so bad options fail here). */
  static async start(image: string, options: PoolOptions): Promise<SandboxPool> {
    const pool = new SandboxPool(image, options);
    const first = await createSandbox(image, pool.#options);
    pool.#ready.push(first);
    pool.#refill();
    return pool;
  }

  /** Sandboxes ready to hand out now. */
  get ready(): number {
    return this.#ready.length;
  }

  /** A ready sandbox, at once when one is pooled; otherwise the next one restored. Refills behind. */
  take(options: { signal?: AbortSignal } = {}): Promise<LocalSandbox> {
    if (this.#closed) return Promise.reject(new AbortError('SandboxPool.take: the pool is closed'));
    const sandbox = this.#ready.shift();
    this.#refill();
    if (sandbox) return Promise.resolve(sandbox);
    return new Promise((resolve, reject) => {
      const waiter = { resolve, reject };
      this.#waiting.push(waiter);
      options.signal?.addEventListener(
        'abort',
        () => {
          const at = this.#waiting.indexOf(waiter);
          if (at >= 0) this.#waiting.splice(at, 1);
          reject(new AbortError('SandboxPool.take: aborted'));
        },
        { once: true },
      );
    });
  }

  /**
   * A pooled sandbox at once, or, when none is ready, one restored now with the pool's own
   * options (instead of waiting for the refill in progress); the pool refills behind either
   * way. What `createSandbox(image, { pool })` does.
   */
  takeOrRestore(options: Pick<CreateOptions, 'signal' | 'onProgress' | 'readyTimeoutMs'> = {}): Promise<LocalSandbox> {
    if (this.#closed) return Promise.reject(new AbortError('SandboxPool: the pool is closed'));
    const sandbox = this.#ready.shift();
    this.#refill();
    return sandbox ? Promise.resolve(sandbox) : createSandbox(this.image, { ...this.#options, ...options });
  }

  /** Ends every sandbox still in the pool and stops refilling; handed-out ones are not touched. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const waiter of this.#waiting.splice(0)) waiter.reject(new AbortError('SandboxPool.take: the pool was closed'));
    await this.#filling;
    await Promise.all(this.#ready.splice(0).map((sb) => sb.kill()));
  }

  /** One restore at a time until the pool holds `size` (plus one per waiting taker). */
  #refill(): void {
    if (this.#filling || this.#closed) return;
    if (this.#ready.length >= this.size && this.#waiting.length === 0) return;
    this.#filling = createSandbox(this.image, this.#options).then(
      async (sandbox) => {
        this.#filling = undefined;
        this.#lastError = undefined;
        if (this.#closed) return sandbox.kill();
        const waiter = this.#waiting.shift();
        if (waiter) waiter.resolve(sandbox);
        else this.#ready.push(sandbox);
        this.#refill();
      },
      (error: unknown) => {
        this.#filling = undefined;
        this.#lastError = error;
        // Whoever waits hears why; the pool tries again on the next take.
        for (const waiter of this.#waiting.splice(0)) waiter.reject(error);
      },
    );
  }

  /** The last refill's failure, if the last one failed (undefined once one succeeds again). */
  get lastError(): unknown {
    return this.#lastError;
  }
}
