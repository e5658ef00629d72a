// grpc.health.v1.Health: the standard probe every gRPC tool speaks (Kubernetes gRPC probes,
// Envoy, grpc_health_probe). "" and every service the agent registers report SERVING while it
// serves and NOT_SERVING from the moment it starts to stop, so a balancer stops sending work
// before calls are cut. SystemService.Health stays the runbox-specific view (version, limits).
import { create } from '@bufbuild/protobuf';
import type * as grpc from '@grpc/grpc-js';
import type { ImplementationOf } from '../../../proto/grpc.js';
import {
  Health,
  HealthCheckResponse_ServingStatus as ServingStatus,
  HealthCheckResponseSchema,
  HealthListResponseSchema,
  type HealthCheckRequest,
  type HealthCheckResponse,
} from '../../../proto/gen/grpc/health/v1/health_pb.js';
import { rpcError, toStatus } from '../errors.js';

type Watcher = grpc.ServerWritableStream<HealthCheckRequest, HealthCheckResponse>;

/** The serving status of the server ("") and of each registered service, and who watches it. */
export class HealthState {
  readonly #statuses = new Map<string, ServingStatus>();
  readonly #watchers = new Set<{ service: string; call: Watcher }>();

  constructor(services: readonly string[]) {
    for (const name of ['', ...services]) this.#statuses.set(name, ServingStatus.SERVING);
  }

  status(service: string): ServingStatus | undefined {
    return this.#statuses.get(service);
  }

  entries(): [string, ServingStatus][] {
    return [...this.#statuses];
  }

  /** Marks everything NOT_SERVING, tells every watcher, and ends their streams so shutdown need not wait for them. */
  stopServing(): void {
    for (const name of this.#statuses.keys()) this.#statuses.set(name, ServingStatus.NOT_SERVING);
    for (const watcher of this.#watchers) {
      watcher.call.write(create(HealthCheckResponseSchema, { status: ServingStatus.NOT_SERVING }));
      watcher.call.end();
    }
    this.#watchers.clear();
  }

  watch(service: string, call: Watcher): void {
    const status = this.#statuses.get(service) ?? ServingStatus.SERVICE_UNKNOWN;
    call.write(create(HealthCheckResponseSchema, { status }));
    if (status === ServingStatus.NOT_SERVING) {
      call.end();
      return;
    }
    const watcher = { service, call };
    this.#watchers.add(watcher);
    call.on('cancelled', () => this.#watchers.delete(watcher));
  }
}

export function healthService(state: HealthState): ImplementationOf<typeof Health> {
  return {
    check: (call, callback) => {
      const status = state.status(call.request.service);
      if (status === undefined) {
        callback(
          toStatus(
            rpcError('HEALTH_SERVICE_UNKNOWN', `this agent serves no service "${call.request.service}"`, { service: call.request.service }),
          ),
        );
        return;
      }
      callback(null, create(HealthCheckResponseSchema, { status }));
    },
    list: (_call, callback) => {
      const statuses: Record<string, HealthCheckResponse> = {};
      for (const [name, status] of state.entries()) statuses[name] = create(HealthCheckResponseSchema, { status });
      callback(null, create(HealthListResponseSchema, { statuses }));
    },
    watch: (call) => state.watch(call.request.service, call),
  };
}
