// Host side of LifecycleService: Claim, which makes a sandbox restored from a memory snapshot
// its own (docs/lifecycle.md). Used by the VM code through `claimSandbox` (host/sandbox.ts),
// not a member of Sandbox: only whoever restored the VM has a reason to call it.
import { randomBytes } from 'node:crypto';
import { create } from '@bufbuild/protobuf';
import { ClaimRequestSchema, LifecycleService } from '../../proto/gen/runbox/v1/lifecycle_pb.js';
import type { CallOptions, Connection } from '../transport/connection.js';
import { nonNegativeOption } from '../transport/options.js';
import type { ClaimRequest, ClaimResult } from './types.js';

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
  };
}
