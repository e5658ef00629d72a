// Progress of a transfer: bytes so far, total, rate and time left, at most every 500 ms per
// step (and once at its end), so a CLI line or a log is neither silent nor flooded.
export interface TransferProgress {
  stage: 'pack' | 'upload' | 'mount' | 'download' | 'unpack' | 'skip' | 'manifest';
  /** What moves: rootfs, kernel, vmlinux, initrd, config or manifest. */
  what: string;
  bytes: number;
  total: number;
  /** Bytes per second since the step began. */
  rate: number;
  /** Seconds left at that rate; undefined before anything moved. */
  etaSeconds: number | undefined;
}

export type OnProgress = (p: TransferProgress) => void;

export class Meter {
  readonly #started = Date.now();
  #last = 0;
  #bytes = 0;
  readonly #report: () => void;

  constructor(onProgress: OnProgress | undefined, stage: TransferProgress['stage'], what: string, total: number, from = 0) {
    this.#bytes = from;
    this.#report = () => {
      const seconds = Math.max((Date.now() - this.#started) / 1000, 0.001);
      const rate = (this.#bytes - from) / seconds;
      onProgress?.({
        stage,
        what,
        bytes: this.#bytes,
        total,
        rate,
        etaSeconds: rate > 0 ? Math.max(total - this.#bytes, 0) / rate : undefined,
      });
    };
    this.#report();
  }

  add(n: number): void {
    this.#bytes += n;
    const now = Date.now();
    if (now - this.#last >= 500) {
      this.#last = now;
      this.#report();
    }
  }

  end(): void {
    this.#report();
  }
}

/** "1.2 GB"-style sizes for progress lines. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}
