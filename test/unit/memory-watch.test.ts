// The thrash detector's decisions, fed sample series shaped like the counters seen in a VM
// (docs/running-code.md, "Memory limit"). The detector is pure, so these are plain unit tests;
// the watcher itself runs against real cgroups in test/vm/vm.test.ts.
import { describe, expect, it } from 'vitest';
import { ThrashDetector, WATCH_INTERVAL_MS, NO_PSI_AT_LIMIT_MS } from '../../agent/limits/memory-watch.js';
import type { MemorySample } from '../../agent/limits/cgroups.js';

type Step = (i: number) => Partial<MemorySample>;

/** Feeds `count` samples, one per interval; returns the first verdict and when it came. */
function run(count: number, step: Step): { why: string | undefined; atSample: number } {
  const detector = new ThrashDetector();
  let sample: MemorySample = { atLimitEvents: 0, oomEvents: 0, oomKills: 0, fullStallUs: 0, refaults: 0 };
  for (let i = 0; i < count; i++) {
    sample = { ...sample, ...step(i) };
    const why = detector.observe(i * WATCH_INTERVAL_MS, sample);
    if (why !== undefined) return { why, atSample: i };
  }
  return { why: undefined, atSample: -1 };
}

const perInterval = (us: number) => (i: number) => i * us;

describe('ThrashDetector', () => {
  it('stays quiet for a run that never reaches its limit', () => {
    expect(run(100, () => ({})).why).toBeUndefined();
  });

  it('names the missing OOM victim when the kernel declares OOM but kills nothing', () => {
    const r = run(50, (i) => ({ oomEvents: i * 40, atLimitEvents: i * 40 }));
    expect(r.why).toMatch(/could kill none of its processes/);
  });

  it('stays quiet when the kernel does kill: an OOM kill is the kernel ending the run itself', () => {
    expect(run(50, (i) => ({ oomEvents: i, oomKills: i, atLimitEvents: i })).why).toBeUndefined();
  });

  it('ends a run stalled on memory most of the time at its limit, but not at once', () => {
    // 80% of every interval fully stalled, at the limit all the time.
    const r = run(100, (i) => ({ atLimitEvents: i * 10, fullStallUs: perInterval(0.8 * WATCH_INTERVAL_MS * 1000)(i) }));
    expect(r.why).toMatch(/stalled on memory 8\d% of the last/);
    // The window must fill and the stall must hold for another window first.
    expect(r.atSample * WATCH_INTERVAL_MS).toBeGreaterThanOrEqual(2_000);
  });

  it('lets a short burst of stalls pass', () => {
    // 0.8 s of heavy stall at the limit, then calm.
    let stall = 0;
    const burst = run(100, (i) => {
      if (i >= 10 && i < 14) stall += 0.9 * WATCH_INTERVAL_MS * 1000;
      return { atLimitEvents: i * 10, fullStallUs: stall };
    });
    expect(burst.why).toBeUndefined();
  });

  it('lets a file stream through a full page cache pass (at the limit, little stall)', () => {
    const r = run(200, (i) => ({ atLimitEvents: i * 50, fullStallUs: perInterval(0.05 * WATCH_INTERVAL_MS * 1000)(i) }));
    expect(r.why).toBeUndefined();
  });

  describe('without PSI', () => {
    it('ends a run at its limit for long while re-reading evicted pages', () => {
      const r = run(100, (i) => ({ atLimitEvents: i * 10, fullStallUs: undefined, refaults: i * 100 }));
      expect(r.why).toMatch(/stayed at the limit .* re-reading evicted pages/);
      expect(r.atSample * WATCH_INTERVAL_MS).toBeGreaterThanOrEqual(NO_PSI_AT_LIMIT_MS);
    });

    it('lets a run at its limit without refaults pass (clean cache being dropped)', () => {
      expect(run(100, (i) => ({ atLimitEvents: i * 10, fullStallUs: undefined, refaults: 0 })).why).toBeUndefined();
    });

    it('starts over when the run leaves its limit', () => {
      // At the limit for 4 s, away for 2 s, and so on: never 5 s in a row.
      let atLimit = 0;
      const r = run(200, (i) => {
        if (i % 30 < 20) atLimit += 10; // 30 samples = 6 s; the counter only rises at the limit
        return { atLimitEvents: atLimit, fullStallUs: undefined, refaults: i * 100 };
      });
      expect(r.why).toBeUndefined();
    });
  });
});
