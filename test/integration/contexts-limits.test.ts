// Limits of code contexts: how many an agent keeps, when idle ones are closed, what a request
// that is not UTF-8 gets, and who a context runs as under per-run isolation.
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { create } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import { serverStreamCall } from '../../proto/grpc.js';
import { ContextService, ExecuteRequestSchema } from '../../proto/gen/runbox/v1/context_pb.js';
import { errorInfoOf } from '../../host/transport/grpc-errors.js';
import { ResourceExhaustedError } from '../../host/index.js';
import { useAgent } from '../helpers/agent.js';
import { eventually } from '../helpers/shell.js';
import { requireInCi } from '../helpers/required.js';

describe('--max-contexts and --context-idle-ms', () => {
  const f = useAgent({ args: ['--max-contexts', '2', '--context-idle-ms', '1500'] });

  it('refuses a context over --max-contexts, naming the flag', async () => {
    const a = await f.sb.contexts.create('javascript');
    const b = await f.sb.contexts.create('javascript');
    const error = await f.sb.contexts.create('javascript').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ResourceExhaustedError);
    expect(error).toMatchObject({ reason: 'TOO_MANY_CONTEXTS', metadata: { flag: '--max-contexts', limit: '2' } });
    await a.close();
    await b.close();
  });

  it('closes a context idle past --context-idle-ms; a later call learns why', async () => {
    const ctx = await f.sb.contexts.create('javascript');
    expect((await ctx.info()).idleTimeoutMs).toBe(1500);
    await eventually(async () => !(await f.sb.contexts.list()).some((c) => c.id === ctx.id), 'the idle context to be closed');
    const error = await ctx.run('1').catch((e: unknown) => e);
    expect(error).toMatchObject({ reason: 'CONTEXT_NOT_FOUND' });
    expect((error as Error).message).toContain('--context-idle-ms');
  });

  it('never closes a context in the middle of a cell', async () => {
    const ctx = await f.sb.contexts.create('javascript');
    const e = await ctx.run('await new Promise((r) => setTimeout(r, 3500)); "still here"');
    expect(e.text).toBe("'still here'");
    await ctx.close();
  });

  it('refuses code that is not UTF-8 (FIELD_INVALID) and keeps serving', async () => {
    const ctx = await f.sb.contexts.create('javascript');
    const client = new grpc.Client(f.agent.unixTarget, grpc.credentials.createInsecure());
    try {
      const call = serverStreamCall(
        client,
        ContextService.method.execute,
        create(ExecuteRequestSchema, { contextId: ctx.id, code: new Uint8Array([0x31, 0xff, 0x32]) }),
        { metadata: new grpc.Metadata(), options: {} },
      );
      const error = await new Promise<grpc.ServiceError>((resolve) => call.on('error', resolve));
      expect(error.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(errorInfoOf(error)).toMatchObject({ reason: 'FIELD_INVALID', metadata: { field: 'code' } });
    } finally {
      client.close();
    }
    expect((await ctx.run('1 + 1')).text).toBe('2');
    await ctx.close();
  });
});

describe('contexts under --isolation per-run', () => {
  const asRoot = process.getuid?.() === 0;
  // Not under /tmp: every tenant gets a private /tmp, so the agent's directories live elsewhere.
  let base = '';
  beforeAll(() => {
    if (!asRoot) return;
    base = mkdtempSync('/var/lib/runbox-contexts-test-');
    chmodSync(base, 0o755);
  });
  afterAll(() => {
    if (base) rmSync(base, { recursive: true, force: true });
  });
  const f = useAgent({
    args: () =>
      asRoot
        ? [
            '--isolation',
            'per-run',
            '--run-uids',
            '64000-64200',
            '--work-dir',
            path.join(base, 'runs'),
            '--cache-dir',
            path.join(base, 'cache'),
          ]
        : [],
  });

  it('runs each context as a uid of its own with a private home, returned to the pool when closed', async (t) => {
    requireInCi(t, asRoot, 'root (per-run isolation switches uids)');
    const a = await f.sb.contexts.create('python');
    const b = await f.sb.contexts.create('python');
    const uidOf = async (ctx: typeof a) => Number((await ctx.run('import os; os.getuid()')).text);
    const [ua, ub] = [await uidOf(a), await uidOf(b)];
    expect(ua).toBeGreaterThanOrEqual(64000);
    expect(ub).toBeGreaterThanOrEqual(64000);
    expect(ua).not.toBe(ub);
    const home = (await a.run('import os; os.environ["HOME"]')).text!.slice(1, -1);
    expect(a.cwd).toBe(home);
    expect(home).toContain('/ctx-');
    // b cannot look into a's home, nor see a's processes.
    const peek = await b.run(`import os\ntry:\n    os.listdir(${JSON.stringify(home)})\nexcept PermissionError as e:\n    print("denied")`);
    expect(peek.stdout).toBe('denied\n');
    expect((await b.run(`import os; sorted({os.stat(f"/proc/{p}").st_uid for p in os.listdir("/proc") if p.isdigit()})`)).text).toBe(
      `[${ub}]`,
    );
    await a.close();
    await b.close();
  });
});
