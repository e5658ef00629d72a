// LifecycleService: Claim, which makes a sandbox restored from a memory snapshot its own
// before user code runs (docs/lifecycle.md). The token is always replaced; the kernel RNG and
// the clock only with --manage-guest, when the agent owns the machine it runs on. Freeze and
// Thaw hold user code still across a snapshot of a running sandbox (freeze.ts).
import { create } from '@bufbuild/protobuf';
import type * as grpc from '@grpc/grpc-js';
import type { ImplementationOf } from '../../proto/grpc.js';
import {
  ClaimResponseSchema,
  FreezeResponseSchema,
  ThawResponseSchema,
  type ClaimRequest,
  type ClaimResponse,
  type LifecycleService,
} from '../../proto/gen/runbox/v1/lifecycle_pb.js';
import type { AgentContext } from '../core/context.js';
import { log } from '../core/log.js';
import type { AgentToken } from '../server/auth.js';
import { rpcError, toStatus } from '../server/errors.js';
import { checkAutoThaw, checkClaim, type CheckedClaim } from './validate.js';
import { UserCodeFreezer } from './freeze.js';
import { reseedKernelRng } from './entropy.js';
import { setWallClock } from './clock.js';
import { writeClaimedToken } from './claimed-token.js';

interface GuestSteps {
  entropyReseeded: boolean;
  clockSet: boolean;
  clockStepMs: number;
  skipped: string[];
}

/** The RNG and the clock: reported, never fatal (the token matters more than either). */
async function manageGuest(ctx: AgentContext, claim: CheckedClaim, receivedAt: number): Promise<GuestSteps> {
  if (!ctx.config.manageGuest) {
    return {
      entropyReseeded: false,
      clockSet: false,
      clockStepMs: 0,
      skipped: ['entropy and clock not managed: the agent runs without --manage-guest'],
    };
  }
  const [entropy, clock] = await Promise.all([
    reseedKernelRng(claim.entropy),
    claim.unixTimeMs === 0 ? undefined : setWallClock(claim.unixTimeMs, receivedAt),
  ]);
  const skipped: string[] = [];
  if (!entropy.ok) skipped.push(`entropy not reseeded: ${entropy.error}`);
  if (clock === undefined) skipped.push('clock not set: unix_time_ms is 0');
  else if (!clock.ok) skipped.push(`clock not set: ${clock.error}`);
  return {
    entropyReseeded: entropy.ok,
    clockSet: clock?.ok === true,
    clockStepMs: clock?.ok === true ? clock.stepMs : 0,
    skipped,
  };
}

async function claim(
  ctx: AgentContext,
  token: AgentToken,
  freezer: UserCodeFreezer,
  request: ClaimRequest,
  metadata: grpc.Metadata,
  reseedInterpreters: () => void,
): Promise<ClaimResponse> {
  const receivedAt = performance.now();
  const checked = checkClaim(request);
  const guest = await manageGuest(ctx, checked, receivedAt);
  // The interceptor admitted this call with the token of its time; a Claim that finished
  // meanwhile replaced it, and the later of the two must not undo it.
  if (!token.matches(metadata)) throw rpcError('TOKEN_MISMATCH', 'another Claim replaced the token while this one ran');
  const file = ctx.config.claimedTokenFile;
  if (file !== undefined) {
    try {
      writeClaimedToken(file, checked.token);
    } catch (error) {
      throw rpcError('CLAIM_FAILED', `--claimed-token-file ${file}: ${(error as Error).message}; the token was not replaced`, {
        flag: '--claimed-token-file',
        path: file,
      });
    }
  }
  // Written and swapped in one synchronous step: no call sees one without the other.
  token.replace(checked.token);
  // Long-lived interpreters (code contexts) reseed their own generators first thing when they go on.
  reseedInterpreters();
  // Only now may user code frozen before the snapshot go on: token, entropy and clock are its own.
  const thawed = await freezer.thaw();
  const detail = guest.skipped.join('; ');
  log.info('lifecycle.claimed', {
    token_replaced: true,
    token_persisted: file !== undefined,
    entropy_reseeded: guest.entropyReseeded,
    clock_set: guest.clockSet,
    clock_step_ms: guest.clockSet ? guest.clockStepMs : undefined,
    thawed: thawed || undefined,
    detail: detail || undefined,
  });
  return create(ClaimResponseSchema, {
    tokenReplaced: true,
    entropyReseeded: guest.entropyReseeded,
    clockSet: guest.clockSet,
    clockStepMs: BigInt(guest.clockStepMs),
    detail,
    thawed,
  });
}

/** Answers a unary call from a promise; a failure is logged under `event` and sent as its status. */
function answer<T>(event: string, work: Promise<T>, callback: grpc.sendUnaryData<T>): void {
  work.then(
    (response) => callback(null, response),
    (error: unknown) => {
      log.warn(event, { error: error instanceof Error ? error.message : String(error) });
      callback(toStatus(error));
    },
  );
}

/** `reseedInterpreters`: the code contexts' hook (context/registry.ts), called by each Claim before the thaw. */
export function lifecycleService(
  ctx: AgentContext,
  token: AgentToken,
  reseedInterpreters: () => void = () => undefined,
): ImplementationOf<typeof LifecycleService> {
  const freezer = new UserCodeFreezer(ctx.limits);
  return {
    claim: (call, callback) =>
      answer('lifecycle.claim_refused', claim(ctx, token, freezer, call.request, call.metadata, reseedInterpreters), callback),
    freeze: (call, callback) =>
      answer(
        'lifecycle.freeze_failed',
        (async () => {
          const result = await freezer.freeze(checkAutoThaw(call.request.autoThawMs));
          log.info('lifecycle.frozen', { frozen: result.frozen, detail: result.detail || undefined });
          return create(FreezeResponseSchema, result);
        })(),
        callback,
      ),
    thaw: (_call, callback) =>
      answer(
        'lifecycle.thaw_failed',
        freezer.thaw().then((thawed) => create(ThawResponseSchema, { thawed })),
        callback,
      ),
  };
}
