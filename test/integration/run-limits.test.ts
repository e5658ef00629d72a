// How runs end and what the agent survives: timeouts and cancels kill the whole tree (also
// escapees), client disconnect and agent shutdown too; output floods stay bounded; many
// concurrent runs; --max-concurrent; malformed streams. After each bad case the agent serves.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { create } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import { bidiCall } from '../../proto/grpc.js';
import {
  ExecRequestSchema,
  ProcessInputSchema,
  ProcessService,
  RunCodeRequestSchema,
  type ExecRequest,
} from '../../proto/gen/runbox/v1/process_pb.js';
import { AbortError, ResourceExhaustedError, Sandbox } from '../../host/index.js';
import { CLI, startAgent, type RunningAgent, useAgent } from '../helpers/agent.js';
import { eventually, processesWith, uniqueToken } from '../helpers/run.js';

/** A directory the run-as user may write to, for files a killed process must never create. */
function scratch(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'runbox-kill-'));
  chmodSync(dir, 0o777);
  return dir;
}

/** A script that leaves a backgrounded grandchild and a setsid escapee behind, each writing a file later. */
function leaveDescendants(token: string, dir: string): string {
  return [
    `(sleep 2 && touch ${dir}/grandchild && sleep ${token}) &`,
    `setsid sh -c 'sleep 2 && touch ${dir}/escapee && sleep ${token}' &`,
    `sleep ${token} &`,
    'echo ready',
    `exec sleep ${token}`,
  ].join('\n');
}

async function readyHandle(sb: Sandbox, token: string, dir: string, options: { signal?: AbortSignal } = {}) {
  let ready!: () => void;
  const isReady = new Promise<void>((resolve) => (ready = resolve));
  const handle = await sb.runCode('bash', leaveDescendants(token, dir), { background: true, onStdout: () => ready(), ...options });
  await isReady;
  // Wait until the whole tree is there, so the kill has something to find.
  expect(await eventually(() => processesWith(token).length >= 3)).toBe(true);
  return handle;
}

/** A program in a compiled language that differs per call (a fresh compile-cache key). */
function compiledSource(language: string, round: number): string {
  const id = `${Date.now()}-${round}-${Math.random()}`;
  if (language === 'go') return `package main\nimport "fmt"\nfunc main() { fmt.Println("${id}") }\n`;
  if (language === 'rust') return `fn main() { println!("${id}"); }\n`;
  return `const id: string = '${id}';\nconsole.log(id);\n`;
}

/** The files appear 2 s after the start if anything survived; wait past that. */
async function expectNoLateFiles(dir: string): Promise<void> {
  await new Promise((r) => setTimeout(r, 2_500));
  expect(existsSync(path.join(dir, 'grandchild'))).toBe(false);
  expect(existsSync(path.join(dir, 'escapee'))).toBe(false);
}

describe('run limits and endings', () => {
  let agent: RunningAgent;
  let sb: Sandbox;
  const dirs: string[] = [];

  const fixture = useAgent({ args: ['--max-concurrent', '64'] });
  beforeAll(() => {
    ({ agent, sb } = fixture);
  });
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('a timeout kills the whole tree: backgrounded grandchild and setsid escapee included', async () => {
    const token = uniqueToken();
    const dir = scratch();
    dirs.push(dir);
    const r = await sb.runCode('bash', leaveDescendants(token, dir), { timeoutMs: 1_000 });
    expect(r.status).toBe('timed_out');
    expect(r.exitCode).toBe(-1);
    expect(r.message).toMatch(/wall-clock limit of 1000 ms/);
    expect(r.stdout).toBe('ready\n');
    // By the time the result arrives, nothing of the run is alive.
    expect(processesWith(token)).toEqual([]);
    await expectNoLateFiles(dir);
    expect((await sb.exec(['echo', 'ok'])).stdout).toBe('ok\n');
  });

  it('a fork-and-exit hopper (a new setsid process every few ms, each parent gone) cannot outrun the end of its run', async () => {
    const token = uniqueToken();
    const dir = scratch();
    dirs.push(dir);
    // Each hop starts the next in a new session and exits at once: its pid keeps changing.
    const hop = path.join(dir, 'hop.sh');
    writeFileSync(hop, 'setsid sh "$0" "$1" & exit 0\n', { mode: 0o755 });
    const r = await sb.exec(['sh', '-c', `sh ${hop} ${token}; sleep 0.5; echo hopping`]);
    expect(r.stdout).toBe('hopping\n');
    expect(processesWith(token)).toEqual([]);
    // Nothing comes back later either.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(processesWith(token)).toEqual([]);
    expect((await sb.exec(['echo', 'ok'])).stdout).toBe('ok\n');
  });

  it('a normal exit also ends what the program left running', async () => {
    const token = uniqueToken();
    const r = await sb.exec(['sh', '-c', `sleep ${token} & setsid sleep ${token} & echo started`]);
    expect(r.status).toBe('exited');
    expect(r.stdout).toBe('started\n');
    expect(processesWith(token)).toEqual([]);
  });

  it('an AbortSignal cancels: the promise rejects with AbortError and the agent kills the tree', async () => {
    const token = uniqueToken();
    const dir = scratch();
    dirs.push(dir);
    const controller = new AbortController();
    let ready!: () => void;
    const isReady = new Promise<void>((resolve) => (ready = resolve));
    const result = sb.runCode('bash', leaveDescendants(token, dir), { signal: controller.signal, onStdout: () => ready() });
    await isReady;
    expect(await eventually(() => processesWith(token).length >= 3)).toBe(true);
    controller.abort();
    await expect(result).rejects.toThrow(AbortError);
    expect(await eventually(() => processesWith(token).length === 0)).toBe(true);
    await expectNoLateFiles(dir);
    expect((await sb.exec(['echo', 'ok'])).stdout).toBe('ok\n');
  });

  it('an already aborted signal never starts the run', async () => {
    await expect(sb.exec(['true'], { signal: AbortSignal.abort() })).rejects.toThrow(AbortError);
  });

  it('handle.cancel() rejects wait() with AbortError and kills the tree', async () => {
    const token = uniqueToken();
    const dir = scratch();
    dirs.push(dir);
    const h = await readyHandle(sb, token, dir);
    h.cancel();
    await expect(h.wait()).rejects.toThrow(AbortError);
    expect(await eventually(() => processesWith(token).length === 0)).toBe(true);
  });

  it('a client that disconnects mid-run (Sandbox closed) leaves nothing running', async () => {
    const token = uniqueToken();
    const dir = scratch();
    dirs.push(dir);
    const other = await Sandbox.connect(agent.tcpTarget);
    const h = await readyHandle(other, token, dir);
    await other.close();
    expect(await h.wait().catch((e: unknown) => e)).toBeInstanceOf(AbortError);
    expect(await eventually(() => processesWith(token).length === 0)).toBe(true);
    await expectNoLateFiles(dir);
    expect((await sb.exec(['echo', 'ok'])).stdout).toBe('ok\n');
  });

  it('a client killed mid-run (the CLI gets SIGKILL: the connection drops) leaves nothing running', async () => {
    const token = uniqueToken();
    const dir = scratch();
    dirs.push(dir);
    const child = spawn(process.execPath, [CLI, 'exec', '--target', agent.tcpTarget, '--', 'bash', '-c', leaveDescendants(token, dir)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    expect(await eventually(() => processesWith(token).length >= 3)).toBe(true);
    child.kill('SIGKILL');
    expect(await eventually(() => processesWith(token).length === 0)).toBe(true);
    await expectNoLateFiles(dir);
    expect((await sb.exec(['echo', 'ok'])).stdout).toBe('ok\n');
  });

  it('an output flood far beyond the cap is counted, truncated, and keeps the agent bounded', async () => {
    const before = agent.rssBytes();
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, agent.rssBytes())), 50);
    const floodBytes = 200 * 1024 * 1024;
    try {
      const r = await sb.exec(['sh', '-c', `head -c ${floodBytes} /dev/zero; head -c ${floodBytes / 4} /dev/zero >&2; echo done >&2`], {
        outputLimitBytes: 1 << 20,
        timeoutMs: 120_000,
      });
      expect(r.status).toBe('exited');
      expect(r.exitCode).toBe(0);
      expect(r.stdoutTruncated).toBe(true);
      expect(r.stderrTruncated).toBe(true);
      expect(r.stdoutBytes.length).toBe(1 << 20);
      expect(r.stderrBytes.length).toBe(1 << 20);
      expect(r.run!.stdoutTotalBytes).toBe(floodBytes);
      expect(r.run!.stderrTotalBytes).toBe(floodBytes / 4 + 5);
      expect(r.message).toMatch(/stdout was cut at 1048576 bytes.*wrote 209715200/);
    } finally {
      clearInterval(sampler);
    }
    const after = agent.rssBytes();
    console.log(
      `agent RSS: before ${(before / 2 ** 20).toFixed(0)} MiB, peak ${(peak / 2 ** 20).toFixed(0)} MiB, after ${(after / 2 ** 20).toFixed(0)} MiB`,
    );
    expect(peak - before).toBeLessThan(150 * 2 ** 20);
    expect(after - before).toBeLessThan(150 * 2 ** 20);
  });

  it('50 concurrent runs all come back correct', async () => {
    const runs = Array.from({ length: 50 }, (_, i) =>
      i % 2 === 0
        ? sb.exec(['sh', '-c', 'read -r x; echo "$1:$x"; echo "e$1" >&2; exit $(($1 % 7))', 'sh', String(i)], { stdin: `in${i}\n` })
        : sb.runCode(
            'python',
            `import sys\nprint(f"{sys.argv[1]}:{input()}")\nprint(f"e{sys.argv[1]}", file=sys.stderr)\nsys.exit(int(sys.argv[1]) % 7)`,
            {
              args: [String(i)],
              stdin: `in${i}\n`,
            },
          ),
    );
    const results = await Promise.all(runs);
    results.forEach((r, i) => {
      expect(r.status, `run ${i}: ${r.message}`).toBe('exited');
      expect(r.stdout).toBe(`${i}:in${i}\n`);
      expect(r.stderr).toBe(`e${i}\n`);
      expect(r.exitCode).toBe(i % 7);
    });
    expect(new Set(results.map((r) => r.runId)).size).toBe(50);
  });

  describe('malformed streams (raw gRPC)', () => {
    let client: grpc.Client;
    beforeAll(() => {
      client = new grpc.Client(agent.unixTarget, grpc.credentials.createInsecure());
    });
    afterAll(() => client.close());

    function statusOf<I, O>(call: grpc.ClientDuplexStream<I, O>): Promise<grpc.StatusObject> {
      return new Promise((resolve) => {
        call.on('data', () => {});
        call.on('error', () => {});
        call.on('status', resolve);
      });
    }

    it('`input` as the first message is INVALID_ARGUMENT', async () => {
      const call = bidiCall(client, ProcessService.method.exec, { metadata: new grpc.Metadata(), options: {} });
      const status = statusOf(call);
      call.write(
        create(ExecRequestSchema, {
          event: { case: 'input', value: create(ProcessInputSchema, { kind: { case: 'signal', value: 'SIGINT' } }) },
        }),
      );
      const s = await status;
      expect(s.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(s.details).toMatch(/first message must be `start`.*got `input`/);
      expect((await sb.exec(['echo', 'ok'])).stdout).toBe('ok\n');
    });

    it('an empty first message and a half-close before start are INVALID_ARGUMENT', async () => {
      const empty = bidiCall(client, ProcessService.method.runCode, { metadata: new grpc.Metadata(), options: {} });
      const emptyStatus = statusOf(empty);
      empty.write(create(RunCodeRequestSchema, {}));
      expect((await emptyStatus).details).toMatch(/got an empty message/);

      const halfClosed = bidiCall(client, ProcessService.method.runCode, { metadata: new grpc.Metadata(), options: {} });
      const halfStatus = statusOf(halfClosed);
      halfClosed.end();
      const s = await halfStatus;
      expect(s.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(s.details).toMatch(/closed its side of the stream before sending `start`/);
      expect((await sb.runCode('sh', 'echo ok')).stdout).toBe('ok\n');
    });

    it('after many refused, failed and cancelled runs every admission slot is released (Health.active_runs 0)', async () => {
      const rawExec = (argv: string[], then: (call: { write(m: ExecRequest): unknown; cancel(): void }) => void) => {
        const call = bidiCall(client, ProcessService.method.exec, { metadata: new grpc.Metadata(), options: {} });
        const status = statusOf(call);
        call.write(create(ExecRequestSchema, { event: { case: 'start', value: { argv } } }));
        then(call);
        return status;
      };
      const input = (kind: { case: 'stdin'; value: Uint8Array } | { case: 'signal'; value: string }) =>
        create(ExecRequestSchema, { event: { case: 'input', value: create(ProcessInputSchema, { kind }) } });
      const languages = (await sb.languages()).map((l) => l.name);
      const compiled = ['go', 'rust', 'typescript'].find((l) => languages.includes(l));
      for (let round = 0; round < 3; round++) {
        const outcomes = await Promise.allSettled([
          sb.runCode('no-such-language', 'x'),
          sb.exec(['no-such-command-xyz']),
          sb.exec(['sh', '-c', 'sleep 5'], { timeoutMs: 100 }),
          sb.exec(['sh', '-c', 'exit 3'], { cwd: '/no/such/dir' }),
          sb.exec(['true', 'x'.repeat(200_000)]),
          sb.exec(['sleep', '5'], { signal: AbortSignal.timeout(200) }),
          // stdin without keep_stdin_open, and an unknown signal: refused mid-run, the run is killed.
          rawExec(['sleep', '5'], (call) => call.write(input({ case: 'stdin', value: new Uint8Array([1]) }))),
          rawExec(['sleep', '5'], (call) => call.write(input({ case: 'signal', value: 'SIGSEGV' }))),
          // A client that goes away without a word.
          rawExec(['sleep', '5'], (call) => setTimeout(() => call.cancel(), 100)),
          // Cancelled mid-compile (the source is unique, so the compile cache cannot skip it).
          ...(compiled ? [sb.runCode(compiled, compiledSource(compiled, round), { signal: AbortSignal.timeout(300) })] : []),
        ]);
        const [language, missing, timedOut, badCwd, hugeArg, aborted, stdinRefused, signalRefused] = outcomes;
        expect(language.status).toBe('rejected');
        expect(missing.status === 'fulfilled' && missing.value.exitCode).toBe(127);
        expect(timedOut.status === 'fulfilled' && timedOut.value.status).toBe('timed_out');
        expect(badCwd.status === 'rejected' && String(badCwd.reason)).toMatch(/cwd "\/no\/such\/dir" does not exist/);
        expect(hugeArg.status === 'rejected' && String(hugeArg.reason)).toMatch(/argv\[1\] is 200000 bytes/);
        expect(aborted.status === 'rejected' && aborted.reason).toBeInstanceOf(AbortError);
        expect(stdinRefused.status === 'fulfilled' && stdinRefused.value.code).toBe(grpc.status.INVALID_ARGUMENT);
        expect(signalRefused.status === 'fulfilled' && signalRefused.value.code).toBe(grpc.status.INVALID_ARGUMENT);
      }
      let active = -1;
      for (let i = 0; i < 100 && active !== 0; i++) {
        active = (await sb.health()).activeRuns;
        if (active !== 0) await new Promise((r) => setTimeout(r, 100));
      }
      expect(active).toBe(0);
      expect((await sb.exec(['echo', 'still serving'])).stdout).toBe('still serving\n');
    });

    it('a second `start` is INVALID_ARGUMENT and the run it aborted is killed', async () => {
      const token = uniqueToken();
      const call = bidiCall(client, ProcessService.method.exec, { metadata: new grpc.Metadata(), options: {} });
      const status = statusOf(call);
      const start = create(ExecRequestSchema, { event: { case: 'start', value: { argv: ['sleep', token] } } });
      call.write(start);
      expect(await eventually(() => processesWith(token).length === 1)).toBe(true);
      call.write(start);
      expect((await status).details).toMatch(/`start` may only be the first message/);
      expect(await eventually(() => processesWith(token).length === 0)).toBe(true);
    });
  });
});

describe('agent-wide limits', () => {
  it('over --max-concurrent is RESOURCE_EXHAUSTED naming the flag; a slot frees when a run ends', async () => {
    const agent = await startAgent({ args: ['--max-concurrent', '2'] });
    const sb = await Sandbox.connect(agent.unixTarget);
    try {
      const a = await sb.exec(['sleep', '30'], { background: true });
      const b = await sb.exec(['sleep', '30'], { background: true });
      const error = await sb.exec(['true']).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ResourceExhaustedError);
      expect((error as Error).message).toMatch(/maximum of 2 concurrent runs.*--max-concurrent/);
      a.kill();
      expect((await a.wait()).signal).toBe('SIGKILL');
      expect((await sb.exec(['echo', 'ok'])).stdout).toBe('ok\n');
      b.kill();
      await b.wait();
    } finally {
      await sb.close();
      await agent.stop();
    }
  });

  it('agent shutdown kills live runs and tells their clients they were cancelled', async () => {
    const agent = await startAgent();
    const sb = await Sandbox.connect(agent.unixTarget);
    const token = uniqueToken();
    try {
      const h = await sb.exec(['sh', '-c', `setsid sleep ${token} & echo ready; exec sleep ${token}`], { background: true });
      expect(await eventually(() => processesWith(token).length === 2)).toBe(true);
      const result = h.wait();
      expect(await agent.stop()).toBe(0);
      const r = await result;
      expect(r.status).toBe('cancelled');
      expect(r.message).toMatch(/agent is shutting down/);
      expect(processesWith(token)).toEqual([]);
    } finally {
      await sb.close();
    }
  });
});
