// Ends a stage that is stuck at its memory limit without the kernel ending it. Two ways to
// get there with no swap:
// - no OOM victim: the kernel does declare OOM (memory.events `oom` rises) but every process
//   is OOM-protected (oom_score_adj -1000, e.g. inherited from the agent), so nothing is
//   killed and the allocating task retries forever;
// - thrashing: the kernel OOM-kills only when reclaim frees nothing, and a program whose
//   anonymous memory fills the limit can still give up its own file-backed pages (the
//   interpreter's code, its libraries), which are read back at once and evicted again.
//   Reclaim keeps "making progress", no OOM kill comes, the run crawls to its wall clock.
//
// While a stage runs (only then), this samples the stage cgroup every WATCH_INTERVAL_MS:
// - OOM declared (`oom` rose) during the last THRASH_WINDOW_MS and not one OOM kill
//   (`oom_kill`, `oom_group_kill`) → no victim;
// - with PSI (memory.pressure): at the limit (memory.events `max` rose) during the last
//   THRASH_WINDOW_MS, and every task of the cgroup stalled on memory (`full`) for at least
//   THRASH_STALL_FRACTION of it; still so after another THRASH_WINDOW_MS → thrashing (so a
//   burst of stalls shorter than about 1.5 s never counts);
// - without PSI: at the limit in every interval for NO_PSI_AT_LIMIT_MS, with evicted pages
//   being read back (memory.stat workingset refaults, when the kernel counts them) → thrashing.
// A program merely streaming files through a full page cache also hits `max` all the time,
// but it neither stalls on memory for long (clean cache is cheap to drop) nor refaults.
import { monotonicMs } from '../core/clock.js';
import type { MemorySample, RunCgroup } from './cgroups.js';

export const WATCH_INTERVAL_MS = 200;
export const THRASH_WINDOW_MS = 1_000;
export const THRASH_STALL_FRACTION = 0.5;
export const NO_PSI_AT_LIMIT_MS = 5_000;

interface TimedSample extends MemorySample {
  at: number;
}

/** Decides from a series of samples whether the cgroup is thrashing at its limit. Pure: no I/O, no clock. */
export class ThrashDetector {
  /** Samples of the last window, oldest first; the first one is at least a window old once there is one. */
  #window: TimedSample[] = [];
  #stalledSince: number | undefined;
  #atLimitSince: { at: number; refaults: number | undefined } | undefined;
  #lastRiseAt = 0;

  /** Feeds one sample taken at `at` ms; returns why the cgroup counts as thrashing, or undefined. */
  observe(at: number, sample: MemorySample): string | undefined {
    const previous = this.#window.at(-1);
    this.#window.push({ at, ...sample });
    while (this.#window.length > 2 && this.#window[1]!.at <= at - THRASH_WINDOW_MS) this.#window.shift();
    if (!previous) return undefined;
    const base = this.#window[0]!;
    if (at - base.at >= THRASH_WINDOW_MS && sample.oomEvents > base.oomEvents && sample.oomKills === base.oomKills) {
      return `the kernel declared it out of memory ${sample.oomEvents - base.oomEvents} times in the last ${Math.round(at - base.at)} ms but could kill none of its processes (memory.events "oom" without "oom_kill"; OOM-protected?)`;
    }
    return sample.fullStallUs !== undefined && previous.fullStallUs !== undefined
      ? this.#withPressure(at, sample)
      : this.#withoutPressure(at, sample, previous);
  }

  #withPressure(at: number, sample: MemorySample): string | undefined {
    const base = this.#window[0]!;
    const spanMs = at - base.at;
    if (spanMs < THRASH_WINDOW_MS || base.fullStallUs === undefined) return undefined;
    const stalledMs = (sample.fullStallUs! - base.fullStallUs) / 1000;
    if (sample.atLimitEvents <= base.atLimitEvents || stalledMs < THRASH_STALL_FRACTION * spanMs) {
      this.#stalledSince = undefined;
      return undefined;
    }
    this.#stalledSince ??= at;
    if (at - this.#stalledSince < THRASH_WINDOW_MS) return undefined;
    const percent = Math.min(100, Math.round((100 * stalledMs) / spanMs));
    return `all its processes were stalled on memory ${percent}% of the last ${Math.round(spanMs)} ms while it was at the limit (memory.pressure "full", memory.events "max")`;
  }

  #withoutPressure(at: number, sample: MemorySample, previous: TimedSample): string | undefined {
    if (sample.atLimitEvents > previous.atLimitEvents) {
      this.#atLimitSince ??= { at: previous.at, refaults: previous.refaults };
      this.#lastRiseAt = at;
    } else if (at - this.#lastRiseAt > THRASH_WINDOW_MS) {
      this.#atLimitSince = undefined; // it left the limit: start over
    }
    const since = this.#atLimitSince;
    // Measured to the last time it hit the limit, not to now: the grace that lets one quiet
    // interval pass must not count as time at the limit.
    if (!since || this.#lastRiseAt - since.at < NO_PSI_AT_LIMIT_MS) return undefined;
    const refaulting = sample.refaults === undefined || since.refaults === undefined || sample.refaults > since.refaults;
    if (!refaulting) return undefined;
    return `it stayed at the limit for ${Math.round(this.#lastRiseAt - since.at)} ms${sample.refaults !== undefined ? ' re-reading evicted pages (memory.stat workingset_refault)' : ''} (this kernel has no PSI memory.pressure)`;
  }
}

/**
 * Samples `cgroup` until stopped; calls `onThrashing` once (and stops) when the detector says so.
 * Returns the stop function. The timer does not keep the agent alive.
 */
export function watchMemory(cgroup: RunCgroup, onThrashing: (why: string) => void): () => void {
  const detector = new ThrashDetector();
  const timer = setInterval(() => {
    const why = detector.observe(monotonicMs(), cgroup.memorySample());
    if (why === undefined) return;
    clearInterval(timer);
    onThrashing(why);
  }, WATCH_INTERVAL_MS);
  timer.unref();
  return () => clearInterval(timer);
}
