// `runbox web` in a real browser: Debian's Chromium, driven by playwright-core, types into
// xterm.js, reads the terminal back, resizes the window and checks the pty follows. The
// server's token check is tested with plain HTTP and WebSocket clients.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import WebSocket from 'ws';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { Sandbox } from '../../host/index.js';
import { IN_CI } from '../helpers/required.js';
import { startAgent, CLI, REPO, type RunningAgent } from '../helpers/agent.js';
import { eventually } from '../helpers/shell.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = path.join(REPO, 'test-artifacts');

/** The terminal's visible text, read from xterm.js's buffer in the page. */
function screenText(page: Page): Promise<string> {
  return page.evaluate(() => {
    const term = (
      globalThis as unknown as {
        runbox: {
          term: { buffer: { active: { length: number; getLine(i: number): { translateToString(trim: boolean): string } | undefined } } };
        };
      }
    ).runbox.term;
    const buffer = term.buffer.active;
    const lines: string[] = [];
    for (let i = 0; i < buffer.length; i++) lines.push(buffer.getLine(i)?.translateToString(true) ?? '');
    return lines.join('\n');
  });
}

async function waitScreen(page: Page, pattern: RegExp): Promise<RegExpMatchArray> {
  let match: RegExpMatchArray | null = null;
  await eventually(async () => (match = (await screenText(page)).match(pattern)) !== null, `${pattern} on the web terminal`);
  return match!;
}

const termSize = (page: Page) =>
  page.evaluate(() => {
    const term = (globalThis as unknown as { runbox: { term: { cols: number; rows: number } } }).runbox.term;
    return { cols: term.cols, rows: term.rows };
  });

async function typeLine(page: Page, text: string): Promise<void> {
  await page.keyboard.type(text);
  await page.keyboard.press('Enter');
}

describe.runIf(IN_CI || existsSync(CHROMIUM))('runbox web', () => {
  let agent: RunningAgent;
  let web: ChildProcess;
  let url: string;
  let context: BrowserContext;
  let profile: string;

  beforeAll(async () => {
    agent = await startAgent();
    web = spawn(process.execPath, [CLI, 'web', '--target', agent.unixTarget], { stdio: ['ignore', 'pipe', 'pipe'] });
    url = await new Promise<string>((resolve, reject) => {
      let out = '';
      web.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
        out += chunk;
        const match = /open (http:\/\/127\.0\.0\.1:\d+\/\?t=[\w-]+)/.exec(out);
        if (match) resolve(match[1]!);
      });
      web.once('exit', (code) => reject(new Error(`runbox web exited with ${code}: ${out}`)));
    });
    profile = mkdtempSync(path.join(os.tmpdir(), 'runbox-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
      viewport: { width: 1000, height: 600 },
    });
  });
  afterAll(async () => {
    await context?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    if (web && web.exitCode === null) {
      const exited = new Promise((resolve) => web.once('exit', resolve));
      web.kill('SIGINT');
      await exited;
    }
    await agent.stop();
  });

  it('refuses HTTP and WebSocket requests without the token (403)', async () => {
    const base = new URL(url);
    const bare = `${base.origin}/`;
    expect((await fetch(bare)).status).toBe(403);
    expect((await fetch(`${base.origin}/?t=wrong`)).status).toBe(403);
    expect((await fetch(`${base.origin}/assets/xterm.js`)).status).toBe(403);
    const asset = await fetch(`${base.origin}/assets/xterm.js?t=${base.searchParams.get('t')}`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('content-type')).toMatch(/javascript/);
    for (const wsUrl of [`ws://${base.host}/ws`, `ws://${base.host}/ws?t=nope`]) {
      const status = await new Promise<number>((resolve) => {
        const ws = new WebSocket(wsUrl);
        ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        ws.on('open', () => resolve(101));
        ws.on('error', () => resolve(-1));
      });
      expect(status).toBe(403);
    }
  });

  it('refuses another Host (DNS rebinding) and a cross-site Origin, even with the token (403)', async () => {
    const base = new URL(url);
    const withHeaders = (headers: Record<string, string>) =>
      new Promise<number>((resolve, reject) => {
        const req = http.get({ host: base.hostname, port: base.port, path: `${base.pathname}${base.search}`, headers }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
      });
    expect(await withHeaders({})).toBe(200);
    expect(await withHeaders({ Host: `evil.example:${base.port}` })).toBe(403);
    expect(await withHeaders({ Host: `localhost:${base.port}` })).toBe(200);
    expect(await withHeaders({ Origin: 'http://evil.example' })).toBe(403);
    const wsStatus = (origin: string | undefined) =>
      new Promise<number>((resolve) => {
        const ws = new WebSocket(`ws://${base.host}/ws${base.search}`, origin ? { origin } : {});
        ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        ws.on('open', () => (ws.close(), resolve(101)));
        ws.on('error', () => resolve(-1));
      });
    expect(await wsStatus('http://evil.example')).toBe(403);
    expect(await wsStatus(base.origin)).toBe(101);
  });

  it('runs commands typed in xterm.js and follows window resizes; one session per tab', async () => {
    const page = await context.newPage();
    await page.goto(url);
    await eventually(async () => ((await page.textContent('#status')) ?? '').startsWith('session'), 'the session to open');
    await page.click('#terminal');
    await typeLine(page, 'echo "hello-from-the-browser-$((6*7))"');
    await waitScreen(page, /hello-from-the-browser-42/);

    const before = await termSize(page);
    await typeLine(page, 'echo "size=$(stty size)"');
    await waitScreen(page, new RegExp(`size=${before.rows} ${before.cols}`));

    await page.setViewportSize({ width: 700, height: 420 });
    await eventually(async () => (await termSize(page)).cols !== before.cols, 'xterm.js to refit');
    const after = await termSize(page);
    expect(after.cols).toBeLessThan(before.cols);
    expect(after.rows).toBeLessThan(before.rows);
    await typeLine(page, 'clear; echo "resized=$(stty size)"; ls -la --color=always / | head -8');
    await waitScreen(page, new RegExp(`resized=${after.rows} ${after.cols}`));
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'web-terminal.png') });

    const second = await context.newPage();
    await second.goto(url);
    await eventually(async () => ((await second.textContent('#status')) ?? '').startsWith('session'), 'the second session to open');
    const ids = [await page.textContent('#status'), await second.textContent('#status')];
    expect(ids[0]).not.toBe(ids[1]);
    const sb = await Sandbox.connect(agent.unixTarget);
    try {
      const attached = (await sb.shells.list()).filter((s) => s.attached);
      expect(attached.length).toBeGreaterThanOrEqual(2);
      expect(attached.map((s) => `session ${s.id}`)).toEqual(expect.arrayContaining(ids));
    } finally {
      await sb.close();
    }

    // A reload re-attaches to the same session, with its output replayed.
    await second.click('#terminal');
    await typeLine(second, 'MARK=kept-$((5*5)); echo "$MARK"');
    await waitScreen(second, /kept-25/);
    await second.reload();
    await eventually(async () => (await second.textContent('#status')) === ids[1], 'the reloaded tab to re-attach');
    await waitScreen(second, /kept-25/);
    await second.click('#terminal');
    await typeLine(second, 'echo "again-$MARK"');
    await waitScreen(second, /again-kept-25/);

    await typeLine(second, 'exit 3');
    await waitScreen(second, /\[shell exited with code 3\]/);
    await typeLine(page, 'exit');
    await waitScreen(page, /\[shell exited with code 0\]/);
  });
});
