// What LifecycleService.Claim accepts (agent/lifecycle/validate.ts) and the date(1) argument
// it sets the clock with (agent/lifecycle/clock.ts). The RPC itself: test/integration/lifecycle.test.ts.
import { create } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { ClaimRequestSchema } from '../../proto/gen/runbox/v1/lifecycle_pb.js';
import { checkClaim } from '../../agent/lifecycle/validate.js';
import { dateStamp } from '../../agent/lifecycle/clock.js';
import { RpcError } from '../../agent/server/errors.js';

const NOW = Date.UTC(2030, 5, 1, 12, 0, 0, 5);
const request = (fields: { token?: string; entropy?: Uint8Array; unixTimeMs?: bigint }) =>
  create(ClaimRequestSchema, { token: 'clone-token', entropy: new Uint8Array(32), unixTimeMs: BigInt(NOW), ...fields });

function refusal(fields: Parameters<typeof request>[0]): RpcError {
  try {
    checkClaim(request(fields));
  } catch (error) {
    if (error instanceof RpcError) return error;
    throw error;
  }
  throw new Error('expected checkClaim to refuse the request');
}

describe('checkClaim', () => {
  it('accepts a well-formed request', () => {
    expect(checkClaim(request({}))).toEqual({ token: 'clone-token', entropy: new Uint8Array(32), unixTimeMs: NOW });
  });

  it.each([
    ['the longest token', { token: 'x'.repeat(4096) }],
    ['every visible ASCII character', { token: Array.from({ length: 94 }, (_, i) => String.fromCharCode(0x21 + i)).join('') }],
    ['512 bytes of entropy', { entropy: new Uint8Array(512) }],
    ['no clock (0)', { unixTimeMs: 0n }],
    ['2000-01-01 exactly', { unixTimeMs: BigInt(Date.UTC(2000, 0, 1)) }],
  ])('accepts %s', (_name, fields) => {
    expect(() => checkClaim(request(fields))).not.toThrow();
  });

  it.each<[string, Parameters<typeof request>[0], string]>([
    ['an empty token', { token: '' }, 'token'],
    ['a token with a space', { token: 'two words' }, 'token'],
    ['a token with a newline', { token: 'line\n' }, 'token'],
    ['a token with a tab', { token: 'a\tb' }, 'token'],
    ['a token with a NUL', { token: 'a\0b' }, 'token'],
    ['a non-ASCII token (no header could carry it)', { token: 'jeton-é' }, 'token'],
    ['a token over 4096 characters', { token: 'x'.repeat(4097) }, 'token'],
    ['no entropy', { entropy: new Uint8Array() }, 'entropy'],
    ['31 bytes of entropy', { entropy: new Uint8Array(31) }, 'entropy'],
    ['513 bytes of entropy', { entropy: new Uint8Array(513) }, 'entropy'],
    ['a negative time', { unixTimeMs: -1n }, 'unix_time_ms'],
    ['a time in seconds, not ms (1970)', { unixTimeMs: BigInt(Math.floor(NOW / 1000)) }, 'unix_time_ms'],
    ['a time past 2200', { unixTimeMs: BigInt(Date.UTC(2200, 0, 1)) }, 'unix_time_ms'],
    ['the largest int64', { unixTimeMs: 2n ** 63n - 1n }, 'unix_time_ms'],
  ])('refuses %s: FIELD_INVALID naming %s', (_name, fields, field) => {
    const error = refusal(fields);
    expect(error.reason).toBe('FIELD_INVALID');
    expect(error.metadata).toEqual({ field });
    expect(error.message).toContain(field);
  });

  it('never echoes the token it refuses', () => {
    expect(refusal({ token: 'secret token' }).message).not.toContain('secret');
  });
});

describe('dateStamp', () => {
  it.each([
    [0, '@0.000'],
    [5, '@0.005'],
    [1_000, '@1.000'],
    [1_700_000_000_123, '@1700000000.123'],
    [NOW, `@${Math.floor(NOW / 1000)}.005`],
  ])('%i ms is %s', (ms, stamp) => {
    expect(dateStamp(ms)).toBe(stamp);
  });
});
