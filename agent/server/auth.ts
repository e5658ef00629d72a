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
const MAX_TOKEN_BYTES = 4096;
/** Anyone who can connect can make these: at most 5 lines a second, the rest counted. */
const rejections = new RateLimitedLog('auth.rejected', 5);

/**
 * Reads the token: the file's bytes up to the first NUL, whitespace trimmed. NULs end it
 * because the host hands the token to a VM as a small raw disk padded with zeros.
 */
export function readToken(file: string): string {
  const raw = readFileSync(file).subarray(0, MAX_TOKEN_BYTES);
  const nul = raw.indexOf(0);
  const token = (nul === -1 ? raw : raw.subarray(0, nul)).toString('utf8').trim();
  if (!token) throw new Error(`--token-file ${file}: the file holds no token`);
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

/** Whether a call's metadata carries the token (always true for an agent without one). */
export type TokenCheck = (metadata: grpc.Metadata) => boolean;

export function tokenCheck(token: string | undefined): TokenCheck {
  if (token === undefined) return () => true;
  const expected = digest(token);
  return (metadata) => tokenMatches(metadata.get('authorization')[0], expected);
}

export function tokenInterceptor(token: string): grpc.ServerInterceptor {
  const expected = digest(token);
  return (methodDescriptor, call) =>
    new grpc.ServerInterceptingCall(call, {
      start: (next) => {
        next({
          onReceiveMetadata: (metadata, mdNext) => {
            if (PUBLIC_PATHS.has(methodDescriptor.path) || tokenMatches(metadata.get('authorization')[0], expected)) {
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
                  : rpcError('TOKEN_MISMATCH', "the token does not match the agent's --token-file"),
              ),
            );
          },
        });
      },
    });
}
