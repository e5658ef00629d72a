// Host side of SystemService: health, languages and system information of one agent.
import { create } from '@bufbuild/protobuf';
import {
  HealthRequestSchema,
  Isolation,
  LimitsBackend,
  ListLanguagesRequestSchema,
  SystemInfoRequestSchema,
  SystemService,
} from '../../proto/gen/runbox/v1/system_pb.js';
import type { CallOptions, Connection } from '../transport/connection.js';
import { toSystemInfo, type SystemInfo } from './sysinfo.js';
import type { Health, Language } from './types.js';

export type * from './types.js';
export type { SystemInfo } from './sysinfo.js';

/** What Sandbox asks the agent about itself: `sb.health()`, `sb.languages()`, `sb.systemInfo()`. */
export class SystemApi {
  readonly #connection: Connection;

  /** Not public: a Sandbox has one. */
  constructor(internal: never);
  /** @internal Created by Sandbox. */
  constructor(connection: Connection);
  constructor(connection: Connection) {
    this.#connection = connection;
  }

  /** The agent's health. Needs no token. */
  async health(options: CallOptions = {}): Promise<Health> {
    const h = await this.#connection.unary(SystemService.method.health, create(HealthRequestSchema), 'health', options);
    return {
      version: h.version,
      uptimeSeconds: h.uptimeSeconds,
      limitsBackend: h.limitsBackend === LimitsBackend.CGROUP_V2 ? 'cgroup_v2' : 'none',
      limitsDetail: h.limitsDetail,
      runAsUser: h.runAsUser,
      activeRuns: h.activeRuns,
      maxConcurrentRuns: h.maxConcurrentRuns,
      authRequired: h.authRequired,
      isolation: h.isolation === Isolation.PER_RUN ? 'per-run' : h.isolation === Isolation.SHARED ? 'shared' : 'unknown',
    };
  }

  /** Languages the agent found toolchains for. */
  async languages(options: CallOptions = {}): Promise<Language[]> {
    const r = await this.#connection.unary(SystemService.method.listLanguages, create(ListLanguagesRequestSchema), 'languages', options);
    return r.languages.map((l) => ({ name: l.name, aliases: [...l.aliases], version: l.version, compiled: l.compiled }));
  }

  /** CPU, memory, disks, OS, load and network of the sandbox (the VM, not the host). */
  async systemInfo(options: CallOptions = {}): Promise<SystemInfo> {
    const r = await this.#connection.unary(SystemService.method.systemInfo, create(SystemInfoRequestSchema), 'systemInfo', options);
    return toSystemInfo(r);
  }
}
