// What Claim accepts. Refused fields are FIELD_INVALID naming the field; nothing is done
// for a request with any of them wrong.
import { rpcError } from '../server/errors.js';
import { MAX_TOKEN_BYTES } from '../server/auth.js';
import type { ClaimRequest } from '../../proto/gen/runbox/v1/lifecycle_pb.js';

export const MIN_ENTROPY_BYTES = 32;
export const MAX_ENTROPY_BYTES = 512;
/** unix_time_ms outside these years is a host bug, not a clock: 2000-01-01 .. 2200-01-01. */
const EARLIEST_MS = Date.UTC(2000, 0, 1);
const LATEST_MS = Date.UTC(2200, 0, 1);

export interface CheckedClaim {
  token: string;
  entropy: Uint8Array;
  /** 0 = leave the clock alone. */
  unixTimeMs: number;
}

/**
 * A token is what a token file may hold and an `authorization` header can carry: visible
 * ASCII only (so no whitespace or NUL, which readToken would cut or trim), 1 to
 * MAX_TOKEN_BYTES long. Anything else would lock every client out of the clone.
 */
function checkToken(token: string): string {
  if (token.length === 0) throw rpcError('FIELD_INVALID', 'token is required', { field: 'token' });
  if (token.length > MAX_TOKEN_BYTES) {
    throw rpcError('FIELD_INVALID', `token is ${token.length} characters; at most ${MAX_TOKEN_BYTES}`, { field: 'token' });
  }
  if (!/^[\x21-\x7e]+$/.test(token)) {
    throw rpcError('FIELD_INVALID', 'token must be visible ASCII: no whitespace, NUL or other control characters', { field: 'token' });
  }
  return token;
}

export function checkClaim(request: ClaimRequest): CheckedClaim {
  const token = checkToken(request.token);
  const size = request.entropy.length;
  if (size < MIN_ENTROPY_BYTES || size > MAX_ENTROPY_BYTES) {
    throw rpcError('FIELD_INVALID', `entropy is ${size} bytes; send ${MIN_ENTROPY_BYTES} to ${MAX_ENTROPY_BYTES} random bytes`, {
      field: 'entropy',
    });
  }
  const time = request.unixTimeMs;
  if (time !== 0n && (time < BigInt(EARLIEST_MS) || time >= BigInt(LATEST_MS))) {
    throw rpcError('FIELD_INVALID', `unix_time_ms ${time} is not a time between 2000 and 2200; send 0 to leave the clock alone`, {
      field: 'unix_time_ms',
    });
  }
  return { token, entropy: request.entropy, unixTimeMs: Number(time) };
}

export const DEFAULT_AUTO_THAW_MS = 60_000;
export const MAX_AUTO_THAW_MS = 600_000;

/** Freeze's auto_thaw_ms: 0 is the default, more than MAX_AUTO_THAW_MS is refused. */
export function checkAutoThaw(ms: number): number {
  if (ms > MAX_AUTO_THAW_MS) {
    throw rpcError('FIELD_INVALID', `auto_thaw_ms is ${ms}; at most ${MAX_AUTO_THAW_MS} (0 = ${DEFAULT_AUTO_THAW_MS})`, {
      field: 'auto_thaw_ms',
    });
  }
  return ms === 0 ? DEFAULT_AUTO_THAW_MS : ms;
}
