// Numeric call options every room takes (limits, sizes): one check, one error shape.
import { InvalidArgumentError } from '../errors.js';

/** The most output (per stream) or results any agent keeps for a call: its maximum (agent/core/config.ts, agent/context/validate.ts). */
export const AGENT_MAX_KEPT_BYTES = 64 << 20;

/**
 * How much of a stream the SDK keeps: what the agent announced it applies, but never more than
 * the caller asked for nor more than any agent may keep, so an agent that announces no limit
 * (0) or a larger one than asked cannot grow the host's memory past what the caller chose.
 */
export function keptBytes(requested: number | undefined, announced: number): number {
  return Math.min(requested || AGENT_MAX_KEPT_BYTES, announced > 0 ? announced : AGENT_MAX_KEPT_BYTES, AGENT_MAX_KEPT_BYTES);
}

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
