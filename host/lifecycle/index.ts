// Host side of LifecycleService: Claim, which makes a sandbox restored from a memory snapshot
// its own, and Freeze/Thaw, which hold its user code still across a snapshot (docs/lifecycle.md). Used by the VM code through `claimSandbox` (host/sandbox.ts),
// not a member of Sandbox: only whoever restored the VM has a reason to call it.
import { randomBytes } from 'node:crypto';
import { create } from '@bufbuild/protobuf';
import { ClaimRequestSchema, FreezeRequestSchema, LifecycleService, ThawRequestSchema } from '../../proto/gen/runbox/v1/lifecycle_pb.js';
import type { CallOptions, Connection } from '../transport/connection.js';
import { nonNegativeOption } from '../transport/options.js';
import type { ClaimRequest, ClaimResult, FreezeResult } from './types.js';

export type * from './types.js';

const DEFAULT_ENTROPY_BYTES = 64;

/**
 * Claims the agent behind `connection` with the connection's current token; once the agent
 * answered, the connection sends the new token on every later call. Field checks are the
 * agent's: a bad token or entropy size is InvalidArgumentError (FIELD_INVALID, `metadata.field`).
 */
export async function claim(connection: Connection, request: ClaimRequest, options: CallOptions = {}): Promise<ClaimResult> {
  const unixTimeMs = nonNegativeOption(request.unixTimeMs, 'unixTimeMs') ?? Date.now();
  const response = await connection.unary(
    LifecycleService.method.claim,
    create(ClaimRequestSchema, {
      token: request.token,
      entropy: request.entropy ?? randomBytes(DEFAULT_ENTROPY_BYTES),
      unixTimeMs: BigInt(unixTimeMs),
    }),
    'claim',
    options,
  );
  connection.useToken(request.token);
  return {
    tokenReplaced: response.tokenReplaced,
    entropyReseeded: response.entropyReseeded,
    clockSet: response.clockSet,
    clockStepMs: Number(response.clockStepMs),
    detail: response.detail,
    thawed: response.thawed,
  };
}

/**
 * Stops every process of user code before the sandbox's memory is saved; a Claim (in a
 * restored copy) or thawUserCode (in the one that runs on) lets it go on, or the agent does
 * by itself after `autoThawMs` of guest time (default 60000, at most 600000).
 */
export async function freezeUserCode(
  connection: Connection,
  request: { autoThawMs?: number } = {},
  options: CallOptions = {},
): Promise<FreezeResult> {
  const autoThawMs = nonNegativeOption(request.autoThawMs, 'autoThawMs') ?? 0;
  const response = await connection.unary(LifecycleService.method.freeze, create(FreezeRequestSchema, { autoThawMs }), 'freeze', options);
  return { frozen: response.frozen, detail: response.detail };
}

/** Lets user code stopped by freezeUserCode go on; true when it had been frozen. */
export async function thawUserCode(connection: Connection, options: CallOptions = {}): Promise<boolean> {
  return (await connection.unary(LifecycleService.method.thaw, create(ThawRequestSchema, {}), 'thaw', options)).thawed;
}
