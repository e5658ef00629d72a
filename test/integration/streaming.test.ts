// Output that is streamed, not kept: the SDK's keepOutput: false (every byte, no output limit
// unless one is asked for), listeners that hold the call (flow control from the caller's sink
// to the program), and `runbox exec` writing to a file or a pipe that closes.
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, useAgent, type RunningAgent } from '../helpers/agent.js';
import { cli, eventually, processesWith, uniqueToken } from '../helpers/run.js';
import type { Sandbox } from '../../host/index.js';

const MiB = 1 << 20;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('streamed output', () => {
  let agent: RunningAgent;
  let sb: Sandbox;
  let dir: string;
  const fixture = useAgent();
  beforeAll(() => {
    ({ agent, sb } = fixture);
    dir = mkdtempSync(path.join(os.tmpdir(), 'runbox-streaming-'));
    chmodSync(dir, 0o777); // the run, as its user, leaves a marker here
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('keepOutput: false streams every byte past the default limit and keeps none', async () => {
    const pieces: Uint8Array[] = [];
    const r = await sb.exec(['sh', '-c', 'seq 1 1000000; echo err >&2'], {
      keepOutput: false,
      onStdout: (_text, chunk) => void pieces.push(chunk.bytes),
    });
    const streamed = Buffer.concat(pieces).toString();
    expect(streamed.length).toBeGreaterThan(MiB); // past the agent's 1 MiB default
    expect(streamed.split('\n').slice(-3)).toEqual(['999999', '1000000', '']);
    expect(r.exitCode).toBe(0);
    expect(r.limits.outputLimitBytes).toBe(0);
    expect(r.stdoutTruncated).toBe(false);
    expect(r.run?.stdoutTotalBytes).toBe(streamed.length);
    expect(r.stdout).toBe('');
    expect(r.stdoutBytes.length).toBe(0);
    expect(r.stderr).toBe(''); // stderr had no listener: streamed nowhere, kept nowhere
  });

  it('an explicit outputLimitBytes still cuts a stream that is not kept', async () => {
    let received = 0;
    const r = await sb.exec(['head', '-c', String(3 * MiB), '/dev/zero'], {
      keepOutput: false,
      outputLimitBytes: 1000,
      decodeOutput: false,
      onStdout: (text, chunk) => {
        expect(text).toBe('');
        received += chunk.bytes.length;
      },
    });
    expect(received).toBe(1000);
    expect(r.stdoutTruncated).toBe(true);
    expect(r.run?.stdoutTotalBytes).toBe(3 * MiB);
    expect(r.message).toMatch(/stdout was cut at 1000 bytes/);
  });

  it('a listener that holds the call stops the program; nothing piles up, nothing is lost', { timeout: 120_000 }, async () => {
    const total = 200 * MiB;
    const marker = path.join(dir, `done-${uniqueToken()}`);
    let received = 0;
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let holding = true;
    const before = { sdk: process.memoryUsage().rss, agent: agent.rssBytes() };
    const run = sb.exec(['sh', '-c', `head -c ${total} /dev/zero && touch ${marker}`], {
      keepOutput: false,
      decodeOutput: false,
      onStdout: (_text, chunk) => {
        received += chunk.bytes.length;
        if (holding) {
          holding = false;
          return held;
        }
      },
    });
    expect(await eventually(() => received > 0)).toBe(true);
    await sleep(2_000);
    // Held after the first piece: the program is blocked far from its end, and neither side grew by the output.
    expect(existsSync(marker)).toBe(false);
    const grown = { sdk: process.memoryUsage().rss - before.sdk, agent: agent.rssBytes() - before.agent };
    expect(grown.sdk, `the SDK grew by ${grown.sdk} bytes while held`).toBeLessThan(64 * MiB);
    expect(grown.agent, `the agent grew by ${grown.agent} bytes while held`).toBeLessThan(24 * MiB);
    release();
    const r = await run;
    expect(r.exitCode).toBe(0);
    expect(received).toBe(total);
    expect(existsSync(marker)).toBe(true);
  });

  describe('runbox exec (CLI)', () => {
    it('writes every byte to stdout, past the agent default limit, and says nothing', async () => {
      const r = await cli(['exec', '-t', agent.unixTarget, '--', 'head', '-c', String(3 * MiB), '/dev/zero']);
      expect(r.code).toBe(0);
      expect(r.stdout.length).toBe(3 * MiB);
      expect(r.stderr).toBe('');
    });

    it('--output-limit-bytes cuts each stream and says so', async () => {
      const r = await cli([
        'exec',
        '-t',
        agent.unixTarget,
        '--output-limit-bytes',
        '1000',
        '--',
        'head',
        '-c',
        String(3 * MiB),
        '/dev/zero',
      ]);
      expect(r.code).toBe(0);
      expect(r.stdout.length).toBe(1000);
      expect(r.stderr).toMatch(/^runbox: stdout was cut at 1000 bytes \(output_limit_bytes\); the program wrote 3145728\n$/);
    });

    it('a stdout nobody reads holds the program: the CLI keeps nothing, every byte arrives later', { timeout: 120_000 }, async () => {
      const total = 200 * MiB;
      const marker = path.join(dir, `done-${uniqueToken()}`);
      const argv = [CLI, 'exec', '-t', agent.unixTarget, '--', 'sh', '-c', `head -c ${total} /dev/zero && touch ${marker}`];
      const child = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout.pause();
      await sleep(3_000);
      expect(existsSync(marker)).toBe(false);
      const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1]) * 1024;
      expect(rss, `the CLI holds ${rss} bytes`).toBeLessThan(160 * MiB);
      let received = 0;
      child.stdout.on('data', (chunk: Buffer) => (received += chunk.length)).resume();
      const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
      expect(code).toBe(0);
      expect(received).toBe(total);
      expect(existsSync(marker)).toBe(true);
    });

    it('a reader that goes away cancels the run: exit 141, nothing of it left', async () => {
      const token = uniqueToken();
      const child = spawn(process.execPath, [CLI, 'exec', '-t', agent.unixTarget, '--', 'yes', token], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
      child.stdout.destroy(); // like `| head -1` exiting
      const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
      expect(code).toBe(141);
      expect(await eventually(() => processesWith(token).length === 0)).toBe(true);
    });
  });
});
