/** What `claimSandbox` sends. */
export interface ClaimRequest {
  /**
   * The sandbox's new bearer token, required from the next call on (and by this Sandbox,
   * which switches to it). 1 to 4096 characters of visible ASCII.
   */
  token: string;
  /** Randomness for the guest kernel's RNG, 32 to 512 bytes (default: 64 fresh bytes of this host's). */
  entropy?: Uint8Array;
  /** The wall clock to give the guest, ms since the epoch (default: now, when sent); 0 leaves the clock alone. */
  unixTimeMs?: number;
}

/** What the agent did. Steps that were skipped or failed are false, and `detail` says why. */
export interface ClaimResult {
  /** The new token is now the only one the agent accepts (always true: otherwise the call fails). */
  tokenReplaced: boolean;
  /** The guest kernel's CRNG was reseeded with the entropy (only an agent with --manage-guest does). */
  entropyReseeded: boolean;
  /** The guest's wall clock was set (only with --manage-guest and a non-zero unixTimeMs). */
  clockSet: boolean;
  /** How far the guest's clock moved, ms (new minus old); 0 when it was not set. */
  clockStepMs: number;
  /** What was skipped and why; '' when everything was done. */
  detail: string;
  /** User code frozen before the snapshot (freezeUserCode) went on once the rest was done. */
  thawed: boolean;
}

/** What freezeUserCode did. */
export interface FreezeResult {
  /** Every process of user code is stopped until a Claim or thawUserCode (or the auto-thaw deadline). */
  frozen: boolean;
  /** Why not, when not frozen (the agent has no cgroups). */
  detail: string;
}
