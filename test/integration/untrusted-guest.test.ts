// The host trusts nothing from the guest for size. Against the real agent: a path swapped for
// a device is refused, and read() stops at maxBytes. Against a hostile agent (a gRPC server
// here that breaks its own promises, the way compromised guest code could): the SDK keeps no
// more output than the limit the agent announced, and no more of a file than maxBytes.
import { randomBytes } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { create } from '@bufbuild/protobuf';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addService } from '../../proto/grpc.js';
import {
  ProcessService,
  ExecResponseSchema,
  OutputStream,
  Stage,
  Status,
  RunCodeResponseSchema,
  type ExecRequest,
  type RunCodeRequest,
  type RunCodeResponse,
  type ExecResponse,
} from '../../proto/gen/runbox/v1/process_pb.js';
import { FilesService, ReadFileResponseSchema, type ReadFileRequest, type ReadFileResponse } from '../../proto/gen/runbox/v1/files_pb.js';
import { FailedPreconditionError, ResourceExhaustedError, Sandbox } from '../../host/index.js';
import { runboxUserExists, useAgent } from '../helpers/agent.js';
import { failure } from '../helpers/assert.js';

const MiB = 1 << 20;
const asRoot = process.getuid?.() === 0 && runboxUserExists();

describe('against the real agent', () => {
  const fixture = useAgent();
  let dir: string;
  beforeAll(async () => {
    const home = asRoot ? '/home/runbox' : (await fixture.sb.files.stat(process.env.HOME ?? '/tmp')).path;
    dir = `${home}/.untrusted-${randomBytes(4).toString('hex')}`;
    await fixture.sb.files.makeDir(dir);
  });
  afterAll(() => fixture.sb.files.remove(dir, { recursive: true }));

  it('a path user code swapped for a symlink to /dev/zero is refused, not streamed forever', async () => {
    const made = await fixture.sb.exec(['ln', '-s', '/dev/zero', `${dir}/report.txt`]);
    expect(made.exitCode).toBe(0);
    const error = await failure(fixture.sb.files.read(`${dir}/report.txt`));
    expect(error).toBeInstanceOf(FailedPreconditionError);
    expect(error.reason).toBe('NOT_A_REGULAR_FILE');
    expect(error.message).toMatch(/devices are not read/);
  });

  it('read() stops at maxBytes with READ_TOO_LARGE naming the option; readStream still reads it all', async () => {
    await fixture.sb.files.write(`${dir}/big`, randomBytes(3 * MiB));
    const error = await failure(fixture.sb.files.read(`${dir}/big`, { maxBytes: MiB }));
    expect(error).toBeInstanceOf(ResourceExhaustedError);
    expect(error.reason).toBe('READ_TOO_LARGE');
    expect(error.metadata).toMatchObject({ option: 'maxBytes', limit: String(MiB) });
    let total = 0;
    for await (const chunk of fixture.sb.files.readStream(`${dir}/big`)) total += (chunk as Buffer).length;
    expect(total).toBe(3 * MiB);
    expect((await fixture.sb.files.read(`${dir}/big`)).length).toBe(3 * MiB);
  });
});

describe('against a hostile agent', () => {
  let server: grpc.Server;
  let sb: Sandbox;
  const FLOOD = 40 * MiB;

  beforeAll(async () => {
    server = new grpc.Server();
    const chunk = new Uint8Array(MiB).fill(0x41);
    // Exec: announce a 1000-byte output limit, then send 40 MiB anyway. RunCode: announce no
    // limit at all (0), then the same flood.
    addService(server, ProcessService, {
      runCode: (call: grpc.ServerDuplexStream<RunCodeRequest, RunCodeResponse>) => {
        call.once('data', () => {
          call.write(
            create(RunCodeResponseSchema, { event: { case: 'started', value: { runId: 'hostile', limits: { outputLimitBytes: 0n } } } }),
          );
          for (let sent = 0; sent < FLOOD; sent += chunk.length) {
            call.write(
              create(RunCodeResponseSchema, {
                event: { case: 'output', value: { stage: Stage.RUN, stream: OutputStream.STDOUT, data: chunk } },
              }),
            );
          }
          call.write(
            create(RunCodeResponseSchema, { event: { case: 'finished', value: { run: { stage: Stage.RUN, status: Status.EXITED } } } }),
          );
          call.end();
        });
      },
      exec: (call: grpc.ServerDuplexStream<ExecRequest, ExecResponse>) => {
        call.once('data', () => {
          call.write(
            create(ExecResponseSchema, {
              event: { case: 'started', value: { runId: 'hostile', limits: { outputLimitBytes: 1000n, timeoutMs: 1000n } } },
            }),
          );
          for (let sent = 0; sent < FLOOD; sent += chunk.length) {
            call.write(
              create(ExecResponseSchema, {
                event: { case: 'output', value: { stage: Stage.RUN, stream: OutputStream.STDOUT, data: chunk } },
              }),
            );
          }
          call.write(
            create(ExecResponseSchema, {
              event: { case: 'finished', value: { run: { stage: Stage.RUN, status: Status.EXITED, stdoutBytes: 1000n } } },
            }),
          );
          call.end();
        });
      },
    });
    // ReadFile: claim a 10-byte file, then send 40 MiB.
    addService(server, FilesService, {
      readFile: (call: grpc.ServerWritableStream<ReadFileRequest, ReadFileResponse>) => {
        call.write(create(ReadFileResponseSchema, { event: { case: 'info', value: { path: call.request.path, name: 'f', size: 10n } } }));
        for (let sent = 0; sent < FLOOD; sent += chunk.length)
          call.write(create(ReadFileResponseSchema, { event: { case: 'data', value: chunk } }));
        call.end();
      },
      writeFile: (_call, callback) => callback({ code: grpc.status.UNIMPLEMENTED }),
      listDir: (_call, callback) => callback({ code: grpc.status.UNIMPLEMENTED }),
      stat: (_call, callback) => callback({ code: grpc.status.UNIMPLEMENTED }),
      remove: (_call, callback) => callback({ code: grpc.status.UNIMPLEMENTED }),
      makeDir: (_call, callback) => callback({ code: grpc.status.UNIMPLEMENTED }),
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, p) => (error ? reject(error) : resolve(p))),
    );
    sb = await Sandbox.connect(`tcp://127.0.0.1:${port}`);
  });
  afterAll(async () => {
    await sb?.close();
    server?.forceShutdown();
  });

  it('keeps no more output than the limit the agent announced, and marks it truncated', async () => {
    let streamed = 0;
    const r = await sb.exec(['anything'], { onStdout: (text) => (streamed += text.length) });
    expect(r.stdoutBytes.length).toBe(1000);
    expect(r.stdoutTruncated).toBe(true);
    // A listener still sees the stream as it comes (it keeps it, or not, itself).
    expect(streamed).toBe(FLOOD);
  });

  it('keeps no more than the caller asked for, whatever limit the agent announces (none, or a larger one)', async () => {
    const none = await sb.runCode('python', 'print(1)', { outputLimitBytes: 1000 });
    expect(none.stdoutBytes.length).toBe(1000);
    expect(none.stdoutTruncated).toBe(true);
    const larger = await sb.exec(['anything'], { outputLimitBytes: 500 });
    expect(larger.stdoutBytes.length).toBe(500);
    expect(larger.stdoutTruncated).toBe(true);
  });

  it('read() stops at maxBytes whatever size the agent claimed', async () => {
    const error = await failure(sb.files.read('/claimed-small', { maxBytes: 4 * MiB }));
    expect(error).toBeInstanceOf(ResourceExhaustedError);
    expect(error.reason).toBe('READ_TOO_LARGE');
  });
});
