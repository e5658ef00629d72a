// Numeric call options every room takes (limits, sizes): one check, one error shape.
import { InvalidArgumentError } from '../errors.js';

/** `value` when it is a non-negative safe integer (undefined stays undefined); else LIMIT_INVALID naming the option. */
export function nonNegativeOption(value: number | undefined, option: string): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new InvalidArgumentError(`${option} must be a non-negative integer, got ${value}`, {
      reason: 'LIMIT_INVALID',
      metadata: { option },
    });
  }
  return value;
}
