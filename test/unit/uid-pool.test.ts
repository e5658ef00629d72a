import { describe, expect, it } from 'vitest';
import { UidPool } from '../../agent/usercode/uid-pool.js';

describe('UidPool', () => {
  it('hands out every uid of its range once, then none', () => {
    const pool = new UidPool(61000, 61002);
    expect([pool.take(), pool.take(), pool.take(), pool.take()]).toEqual([61000, 61001, 61002, undefined]);
    expect(pool.inUse).toBe(3);
  });

  it('reuses a returned uid only after the unused ones, oldest returned first', () => {
    const pool = new UidPool(61000, 61003);
    const a = pool.take()!;
    const b = pool.take()!;
    pool.give(b);
    pool.give(a);
    expect([pool.take(), pool.take(), pool.take(), pool.take(), pool.take()]).toEqual([61002, 61003, b, a, undefined]);
  });

  it.each([
    ['a uid never taken', (pool: UidPool) => pool.give(61001)],
    ['a uid returned twice', (pool: UidPool) => (pool.give(pool.take()!), pool.give(61000))],
    ['a uid outside the range', (pool: UidPool) => pool.give(5)],
  ])('refuses %s', (_name, misuse) => {
    const pool = new UidPool(61000, 61001);
    expect(() => misuse(pool)).toThrow(/was not taken from the pool/);
  });
});
