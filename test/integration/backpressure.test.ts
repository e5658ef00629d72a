// A client that stops reading does not make the agent buffer: a run's output waits in the
// program's pipe (the program blocks, as under ssh) and every byte arrives once the client
// reads again.
import * as grpc from '@grpc/grpc-js';
import { create } from '@bufbuild/protobuf';
import { afterEach, describe, expect, it } from 'vitest';
import { bidiCall } from '../../proto/grpc.js';
import { ExecRequestSchema, ProcessService, type ExecResponse } from '../../proto/gen/runbox/v1/process_pb.js';
import { useAgent } from '../helpers/agent.js';

const MiB = 1 << 20;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('backpressure', () => {
  const fixture = useAgent();
  let client: grpc.Client | undefined;
  afterEach(() => client?.close());

  it('an unread run holds its output in the pipe, not in the agent, and loses nothing', { timeout: 120_000 }, async () => {
    client = new grpc.Client(fixture.agent.unixTarget, grpc.credentials.createInsecure());
    const call = bidiCall(client, ProcessService.method.exec, { metadata: new grpc.Metadata(), options: {} });
    const total = 48 * MiB;
    let received = 0;
    let exitCode: number | undefined;
    const ended = new Promise<void>((resolve, reject) => {
      call.on('data', (r: ExecResponse) => {
        if (r.event.case === 'output') received += r.event.value.data.length;
        if (r.event.case === 'finished') exitCode = r.event.value.run?.exitCode;
      });
      call.on('end', resolve);
      call.on('error', reject);
    });
    call.pause();
    const before = fixture.agent.rssBytes();
    call.write(
      create(ExecRequestSchema, {
        event: {
          case: 'start',
          value: { argv: ['head', '-c', String(total), '/dev/zero'], limits: { outputLimitBytes: BigInt(64 * MiB) } },
        },
      }),
    );
    await sleep(3_000);
    const grown = fixture.agent.rssBytes() - before;
    expect(grown, `the agent grew by ${grown} bytes while nobody read`).toBeLessThan(24 * MiB);
    call.resume();
    await ended;
    expect(received).toBe(total);
    expect(exitCode).toBe(0);
  });
});

describe('file streams', () => {
  const fixture = useAgent();

  it(
    'at most 32 transfers at once: the next is RESOURCE_EXHAUSTED naming the limit; slots come back however streams end',
    { timeout: 120_000 },
    async () => {
      const { sb } = fixture;
      const path = `/tmp/runbox-streams-${process.pid}`;
      await sb.files.write(path, new Uint8Array(4 * MiB));
      // Failed streams give their slot back: far more than 32 of them in a row.
      for (let i = 0; i < 40; i++) await expect(sb.files.read(`/tmp/no-such-file-${i}`)).rejects.toThrow(/no such file/);
      // 32 unread reads hold every slot (each keeps a bounded window).
      const held = Array.from({ length: 32 }, () => sb.files.readStream(path));
      await Promise.all(held.map((s) => s.info));
      const refused = sb.files.readStream(path);
      refused.on('error', () => undefined); // the refusal, read through .info below
      const error = await refused.info.catch((e: unknown) => e as { reason?: string; metadata?: Record<string, string> });
      expect(error).toMatchObject({ reason: 'TOO_MANY_FILE_STREAMS', metadata: { limit: '32' } });
      for (const s of held) s.destroy();
      await sleep(500);
      expect((await sb.files.read(path)).length).toBe(4 * MiB);
      await sb.files.remove(path);
    },
  );
});
