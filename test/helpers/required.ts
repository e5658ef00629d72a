// What CI installs must be there in CI: a missing toolchain, browser or privilege fails the
// test there instead of skipping it. Outside CI (a developer's partial machine) it skips, saying why.
import type { TestContext } from 'vitest';

/** CI sets CI=true (.ci/run). */
export const IN_CI = process.env.CI === 'true';

/** Skips the test outside CI when `available` is false; fails it in CI. */
export function requireInCi(ctx: TestContext, available: boolean, what: string): void {
  if (available) return;
  if (IN_CI) throw new Error(`${what} is missing, but init/setup-host.sh installs it and .ci/run runs as root: CI must have it`);
  console.log(`SKIPPED: ${what} is not available on this machine`);
  ctx.skip();
}

/**
 * For a whole describe block whose setup already needs the thing (an agent that drops to pool
 * uids): run it as `describe.skipIf(!available && !IN_CI)` and call this in its first
 * beforeAll, so CI fails with this message instead of skipping, and a partial machine skips.
 */
export function requireSuiteInCi(available: boolean, what: string): void {
  if (!available && IN_CI)
    throw new Error(`${what} is missing, but init/setup-host.sh installs it and .ci/run runs as root: CI must have it`);
}
