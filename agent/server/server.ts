// The gRPC server: registers every service, binds every --listen target, applies auth.
import { chmodSync, mkdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import type net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { ConnectionGate } from './connections.js';
import { addService } from '../../proto/grpc.js';
import { SystemService } from '../../proto/gen/runbox/v1/system_pb.js';
import { ProcessService } from '../../proto/gen/runbox/v1/process_pb.js';
import { ShellService } from '../../proto/gen/runbox/v1/shell_pb.js';
import { FilesService } from '../../proto/gen/runbox/v1/files_pb.js';
import { LifecycleService } from '../../proto/gen/runbox/v1/lifecycle_pb.js';
import { ContextService } from '../../proto/gen/runbox/v1/context_pb.js';
import type { ListenTarget } from '../core/config.js';
import type { AgentContext } from '../core/context.js';
import { type AgentToken, tokenInterceptor } from './auth.js';
import { systemService } from '../system/service.js';
import { processService } from '../process/service.js';
import { shellService } from '../shell/service.js';
import { filesService } from '../files/service.js';
import { lifecycleService } from '../lifecycle/service.js';
import { contextService } from '../context/service.js';
import { log } from '../core/log.js';
import { Health } from '../../proto/gen/grpc/health/v1/health_pb.js';
import { ServerReflection } from '../../proto/gen/grpc/reflection/v1/reflection_pb.js';
import { ServerReflection as ServerReflectionV1Alpha } from '../../proto/gen/grpc/reflection/v1alpha/reflection_pb.js';
import { HealthState, healthService } from './standard/health.js';
import { DescriptorIndex, reflectionService, reflectionServiceV1Alpha } from './standard/reflection.js';

/** The runbox services; the standard ones (health, reflection) report on these. */
const RUNBOX_SERVICES = [SystemService, ProcessService, ShellService, FilesService, LifecycleService, ContextService] as const;
const STANDARD_SERVICES = [Health, ServerReflection, ServerReflectionV1Alpha] as const;

export interface AgentServer {
  server: grpc.Server;
  /** grpc.health.v1 status: main marks it NOT_SERVING when shutdown begins. */
  health: HealthState;
}

/** `token` is checked on every call; LifecycleService.Claim may replace it, so the check is installed even without one. */
export function createServer(ctx: AgentContext, token: AgentToken): AgentServer {
  const server = new grpc.Server({
    'grpc.max_receive_message_length': ctx.config.maxMessageBytes,
    'grpc.max_send_message_length': ctx.config.maxMessageBytes,
    // Hosts keep idle connections open with pings (long quiet runs, idle shells); allow them.
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.http2.min_ping_interval_without_data_ms': 5_000,
    // A connection with no call in flight for this long is closed (the SDK reconnects on its
    // next call), so idle or silent connections, authenticated or not, do not pile up.
    'grpc.max_connection_idle_ms': ctx.config.idleTimeoutMs,
    interceptors: [tokenInterceptor(token)],
  });
  addService(server, SystemService, systemService(ctx, token));
  addService(server, ProcessService, processService(ctx));
  addService(server, ShellService, shellService(ctx));
  addService(server, FilesService, filesService(ctx));
  const contexts = contextService(ctx);
  addService(server, ContextService, contexts.implementation);
  // A claimed clone's contexts reseed their generators before user code goes on (docs/lifecycle.md).
  addService(
    server,
    LifecycleService,
    lifecycleService(ctx, token, () => contexts.registry.reseedAll()),
  );
  const health = new HealthState([...RUNBOX_SERVICES, Health].map((s) => s.typeName));
  const descriptors = new DescriptorIndex([...RUNBOX_SERVICES, ...STANDARD_SERVICES]);
  addService(server, Health, healthService(health));
  addService(server, ServerReflection, reflectionService(descriptors));
  addService(server, ServerReflectionV1Alpha, reflectionServiceV1Alpha(descriptors));
  return { server, health };
}

function prepareUnixSocket(socketPath: string): void {
  mkdirSync(path.dirname(socketPath), { recursive: true });
  // A socket left by a previous agent that died would make bind fail with EADDRINUSE.
  try {
    if (statSync(socketPath).isSocket()) rmSync(socketPath);
  } catch {
    /* nothing there */
  }
}

/**
 * Listens on all targets through one ConnectionGate (per-peer limit, preface timeout);
 * returns the addresses actually bound (TCP port 0 becomes the real port) and the gate.
 */
export async function listen(server: grpc.Server, targets: ListenTarget[]): Promise<{ addresses: string[]; gate: ConnectionGate }> {
  const gate = new ConnectionGate(server);
  const addresses: string[] = [];
  for (const target of targets) {
    if (target.kind === 'unix') {
      prepareUnixSocket(target.path);
      await gate.listen({ path: target.path });
      // Only root (the agent, socat's vsock bridge) may talk to the socket; user code may not.
      if (process.getuid?.() === 0) chmodSync(target.path, 0o600);
      addresses.push(`unix://${target.path}`);
    } else {
      const listener = await gate.listen({ host: target.host, port: target.port });
      const host = target.host.includes(':') ? `[${target.host}]` : target.host;
      addresses.push(`tcp://${host}:${(listener.address() as net.AddressInfo).port}`);
    }
  }
  log.info('agent.listening', { addresses: addresses.join(',') });
  return { addresses, gate };
}
