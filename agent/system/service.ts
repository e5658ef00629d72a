// SystemService: Health, ListLanguages and SystemInfo.
import { create } from '@bufbuild/protobuf';
import { rpcError, toStatus } from '../server/errors.js';
import type { ImplementationOf } from '../../proto/grpc.js';
import {
  SystemService,
  HealthResponseSchema,
  LanguageSchema,
  Isolation,
  LimitsBackend,
  ListLanguagesResponseSchema,
} from '../../proto/gen/runbox/v1/system_pb.js';
import type { AgentContext } from '../core/context.js';
import { AGENT_VERSION } from '../core/version.js';
import { log } from '../core/log.js';
import type { AgentToken } from '../server/auth.js';

export function systemService(ctx: AgentContext, token: AgentToken): ImplementationOf<typeof SystemService> {
  return {
    health: (call, callback) => {
      // Without the token a caller learns only that the agent serves, its version and that a
      // token is required: enough to tell "not up yet" from "wrong token", nothing about runs,
      // users or limits.
      if (!token.matches(call.metadata)) {
        callback(null, create(HealthResponseSchema, { version: AGENT_VERSION, authRequired: true }));
        return;
      }
      callback(
        null,
        create(HealthResponseSchema, {
          version: AGENT_VERSION,
          uptimeSeconds: (Date.now() - ctx.startedAt) / 1000,
          limitsBackend: ctx.limits.kind === 'cgroup_v2' ? LimitsBackend.CGROUP_V2 : LimitsBackend.NONE,
          limitsDetail: ctx.limits.detail,
          runAsUser: ctx.runAs.name,
          activeRuns: ctx.admission.active,
          maxConcurrentRuns: ctx.admission.max,
          // Not the flags: a claimed agent requires its claimed token.
          authRequired: token.required,
          isolation: ctx.isolation.mode === 'per-run' ? Isolation.PER_RUN : Isolation.SHARED,
        }),
      );
    },
    listLanguages: (_call, callback) => {
      void ctx.languages.ready.then(() =>
        callback(
          null,
          create(ListLanguagesResponseSchema, {
            languages: ctx.languages.list().map((l) => create(LanguageSchema, l)),
          }),
        ),
      );
    },
    systemInfo: (_call, callback) => {
      // Loaded on first use: systeminformation is the largest module in the bundle and
      // most sandboxes never ask, so the agent starts faster without it.
      import('./sysinfo.js')
        .then(({ collectSystemInfo }) => collectSystemInfo())
        .then(
          (info) => callback(null, info),
          (error: Error) => {
            log.error('sysinfo.failed', { error: error.message });
            callback(toStatus(rpcError('SYSINFO_FAILED', `collecting system information failed: ${error.message}`)));
          },
        );
    },
  };
}
