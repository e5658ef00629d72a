// The standard gRPC services seen from grpc-js: health Watch follows the agent into shutdown
// (NOT_SERVING, then the stream ends), and reflection answers on both protocol versions.
import * as grpc from '@grpc/grpc-js';
import { create, fromBinary } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema } from '@bufbuild/protobuf/wkt';
import { afterEach, describe, expect, it } from 'vitest';
import { bidiCall, serverStreamCall, unaryCall } from '../../proto/grpc.js';
import {
  Health,
  HealthCheckRequestSchema,
  HealthCheckResponse_ServingStatus as ServingStatus,
  HealthListRequestSchema,
  type HealthCheckResponse,
} from '../../proto/gen/grpc/health/v1/health_pb.js';
import * as v1alpha from '../../proto/gen/grpc/reflection/v1alpha/reflection_pb.js';
import * as v1 from '../../proto/gen/grpc/reflection/v1/reflection_pb.js';
import { startAgent, type RunningAgent } from '../helpers/agent.js';

const context = () => ({ metadata: new grpc.Metadata(), options: {} });
let agent: RunningAgent | undefined;
let client: grpc.Client | undefined;

async function open(): Promise<grpc.Client> {
  agent = await startAgent({ token: 'standard-grpc-token' });
  client = new grpc.Client(agent.unixTarget, grpc.credentials.createInsecure());
  return client;
}

afterEach(async () => {
  client?.close();
  await agent?.stop();
});

describe('grpc.health.v1', () => {
  it('lists every service as SERVING without a token', async () => {
    const c = await open();
    const { response } = unaryCall(c, Health.method.list, create(HealthListRequestSchema), context());
    const statuses = Object.fromEntries(Object.entries((await response).statuses).map(([k, v]) => [k, v.status]));
    expect(statuses).toEqual({
      '': ServingStatus.SERVING,
      'runbox.v1.SystemService': ServingStatus.SERVING,
      'runbox.v1.ProcessService': ServingStatus.SERVING,
      'runbox.v1.ShellService': ServingStatus.SERVING,
      'runbox.v1.FilesService': ServingStatus.SERVING,
      'runbox.v1.LifecycleService': ServingStatus.SERVING,
      'runbox.v1.ContextService': ServingStatus.SERVING,
      'grpc.health.v1.Health': ServingStatus.SERVING,
    });
  });

  it('Watch sees SERVING, then NOT_SERVING when the agent is told to stop, then the stream ends cleanly', async () => {
    const c = await open();
    const stream = serverStreamCall(c, Health.method.watch, create(HealthCheckRequestSchema, { service: '' }), context());
    const seen: ServingStatus[] = [];
    const ended = new Promise<grpc.StatusObject>((resolve) => stream.on('status', resolve));
    stream.on('data', (r: HealthCheckResponse) => {
      seen.push(r.status);
      if (seen.length === 1) agent!.process.kill('SIGTERM');
    });
    expect((await ended).code).toBe(grpc.status.OK);
    expect(seen).toEqual([ServingStatus.SERVING, ServingStatus.NOT_SERVING]);
    expect(await agent!.stop()).toBe(0);
  });

  it('Watch of an unknown service says SERVICE_UNKNOWN and stays open (the service may appear)', async () => {
    const c = await open();
    const stream = serverStreamCall(c, Health.method.watch, create(HealthCheckRequestSchema, { service: 'no.such.Service' }), context());
    const first = await new Promise<HealthCheckResponse>((resolve) => stream.once('data', resolve));
    expect(first.status).toBe(ServingStatus.SERVICE_UNKNOWN);
    const cancelled = new Promise<grpc.ServiceError>((resolve) => stream.on('error', resolve));
    stream.cancel();
    expect((await cancelled).code).toBe(grpc.status.CANCELLED);
  });
});

describe('server reflection', () => {
  it('v1alpha (older grpcurl) and v1 give the same services, and file_by_filename returns the file first', async () => {
    const c = await open();
    const alpha = bidiCall(c, v1alpha.ServerReflection.method.serverReflectionInfo, context());
    const alphaReplies: v1alpha.ServerReflectionResponse[] = [];
    alpha.on('data', (r: v1alpha.ServerReflectionResponse) => alphaReplies.push(r));
    const alphaDone = new Promise((resolve) => alpha.on('end', resolve));
    alpha.write(create(v1alpha.ServerReflectionRequestSchema, { messageRequest: { case: 'listServices', value: '' } }));
    alpha.end();
    await alphaDone;

    const current = bidiCall(c, v1.ServerReflection.method.serverReflectionInfo, context());
    const replies: v1.ServerReflectionResponse[] = [];
    current.on('data', (r: v1.ServerReflectionResponse) => replies.push(r));
    const done = new Promise((resolve) => current.on('end', resolve));
    current.write(create(v1.ServerReflectionRequestSchema, { messageRequest: { case: 'listServices', value: '' } }));
    current.write(create(v1.ServerReflectionRequestSchema, { messageRequest: { case: 'fileByFilename', value: 'runbox/v1/files.proto' } }));
    current.write(
      create(v1.ServerReflectionRequestSchema, {
        messageRequest: { case: 'fileContainingSymbol', value: 'runbox.v1.ShellService.ListShells' },
      }),
    );
    current.end();
    await done;

    const names = (r: { messageResponse: { case?: string; value?: unknown } }) =>
      r.messageResponse.case === 'listServicesResponse'
        ? (r.messageResponse.value as v1.ListServiceResponse).service.map((s) => s.name).sort()
        : [];
    expect(names(alphaReplies[0]!)).toEqual(names(replies[0]!));
    expect(names(replies[0]!)).toContain('runbox.v1.FilesService');
    const files = (r: v1.ServerReflectionResponse) =>
      r.messageResponse.case === 'fileDescriptorResponse'
        ? r.messageResponse.value.fileDescriptorProto.map((b) => fromBinary(FileDescriptorProtoSchema, b).name)
        : [];
    expect(files(replies[1]!)[0]).toBe('runbox/v1/files.proto');
    expect(files(replies[2]!)[0]).toBe('runbox/v1/shell.proto');
  });
});
