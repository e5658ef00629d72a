// Bearer-token check for every RPC except the probes (SystemService.Health, grpc.health.v1)
// and reflection (the public contract), as a grpc-js server interceptor so no service module
// can forget it.
import { timingSafeEqual, createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { methodPath } from '../../proto/grpc.js';
import { SystemService } from '../../proto/gen/runbox/v1/system_pb.js';
import { Health } from '../../proto/gen/grpc/health/v1/health_pb.js';
import { ServerReflection } from '../../proto/gen/grpc/reflection/v1/reflection_pb.js';
import { ServerReflection as ServerReflectionV1Alpha } from '../../proto/gen/grpc/reflection/v1alpha/reflection_pb.js';
import { RateLimitedLog } from './rate-limited-log.js';
import { rpcError, toStatus } from './errors.js';

/** Answered without a token: they tell a caller only that the agent is up and what it speaks. */
const PUBLIC_PATHS = new Set([
  methodPath(SystemService.method.health),
  ...[Health, ServerReflection, ServerReflectionV1Alpha].flatMap((service) => service.methods.map(methodPath)),
]);
/** The most of a token file that is read, and the longest token Claim accepts. */
export const MAX_TOKEN_BYTES = 4096;
/** Anyone who can connect can make these: at most 5 lines a second, the rest counted. */
const rejections = new RateLimitedLog('auth.rejected', 5);

/**
 * The token in a file's bytes: up to the first NUL, whitespace trimmed; '' when there is
 * none. NULs end it because the host hands the token to a VM as a small raw disk padded
 * with zeros.
 */
export function parseToken(raw: Uint8Array): string {
  const head = Buffer.from(raw.buffer, raw.byteOffset, Math.min(raw.length, MAX_TOKEN_BYTES));
  const nul = head.indexOf(0);
  return (nul === -1 ? head : head.subarray(0, nul)).toString('utf8').trim();
}

/** Reads the token of `flag`'s file (see parseToken); a file without one stops the agent. */
export function readToken(file: string, flag = '--token-file'): string {
  const token = parseToken(readFileSync(file));
  if (!token) throw new Error(`${flag} ${file}: the file holds no token`);
  return token;
}

// Hashing both sides first gives equal lengths, so the compare is constant-time for any input.
function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

function tokenMatches(header: grpc.MetadataValue | undefined, expected: Buffer): boolean {
  if (typeof header !== 'string') return false;
  const match = /^Bearer (.+)$/i.exec(header.trim());
  return match !== null && timingSafeEqual(digest(match[1]!), expected);
}

/**
 * The token the agent requires, or none. One instance per agent, read by the interceptor on
 * every call, so LifecycleService.Claim can replace it: from the next call on only the new
 * token is accepted (calls already admitted go on).
 */
export class AgentToken {
  /** sha256 of the token; undefined = no token, every call is let through. */
  #expected: Buffer | undefined;

  constructor(token: string | undefined) {
    this.#expected = token === undefined ? undefined : digest(token);
  }

  /** Whether calls must carry a token. */
  get required(): boolean {
    return this.#expected !== undefined;
  }

  /** Whether a call's metadata carries the token (always true for an agent without one). */
  matches(metadata: grpc.Metadata): boolean {
    return this.#expected === undefined || tokenMatches(metadata.get('authorization')[0], this.#expected);
  }

  /** Requires `token` from now on (an agent without a token starts requiring one). */
  replace(token: string): void {
    this.#expected = digest(token);
  }
}

export function tokenInterceptor(token: AgentToken): grpc.ServerInterceptor {
  return (methodDescriptor, call) =>
    new grpc.ServerInterceptingCall(call, {
      start: (next) => {
        next({
          onReceiveMetadata: (metadata, mdNext) => {
            if (PUBLIC_PATHS.has(methodDescriptor.path) || token.matches(metadata)) {
              mdNext(metadata);
              return;
            }
            const missing = metadata.get('authorization').length === 0;
            rejections.write({ method: methodDescriptor.path, reason: missing ? 'missing' : 'mismatch' });
            call.sendStatus(
              toStatus(
                missing
                  ? rpcError(
                      'TOKEN_MISSING',
                      'this agent requires a token: send "authorization: Bearer <token>" (SDK option token, CLI --token-file)',
                    )
                  : rpcError(
                      'TOKEN_MISMATCH',
                      "the token does not match the agent's (its --token-file, or the one it was last claimed with)",
                    ),
              ),
            );
          },
        });
      },
    });
}
