// The web terminal's server: serves the page and bridges each WebSocket to its own shell
// session in the sandbox. Every HTTP and WebSocket request must carry the random token
// printed at start (?t=...); anything else gets 403.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { Sandbox } from '../sandbox.js';
import { NotFoundError, RunboxError } from '../errors.js';
import { SHELL_MAX_COLS, SHELL_MAX_ROWS, type ShellHandle } from '../shell/index.js';
import { loadAssets } from './assets.js';
import { APP_SCRIPT, pageHtml } from './page.js';

export interface WebTerminalOptions {
  /** Port to listen on (default 0: any free port). */
  port?: number;
  /** Address to listen on (default 127.0.0.1). Anything else exposes the sandbox to that network. */
  host?: string;
  /** Access token (default: 24 random bytes, base64url). */
  token?: string;
  /** Page title. */
  title?: string;
  /** Called for each session event, for logging. */
  onEvent?: (event: string, detail: Record<string, string | number>) => void;
}

export interface WebTerminal {
  /** The URL to open, token included. */
  url: string;
  token: string;
  port: number;
  /** Stops serving; open sessions are detached (they live on for the agent's grace period). */
  close(): Promise<void>;
}

const digest = (text: string) => createHash('sha256').update(text).digest();

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/i;

/**
 * Which Host (and Origin host) values a request may carry: a page on another site that
 * rebinds its DNS name to 127.0.0.1 sends its own name, and is refused. Bound to loopback:
 * loopback names with our port. Bound to one address: that address. Bound to every address
 * (0.0.0.0, ::): the operator exposed it on purpose, any name with our port.
 */
function hostAllowed(bound: string, port: number): (value: string | undefined) => boolean {
  const boundHost = bound.includes(':') ? `[${bound}]` : bound;
  const everywhere = bound === '0.0.0.0' || bound === '::';
  return (value) => {
    if (value === undefined) return false;
    const match = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(value);
    if (!match || Number(match[2] ?? 80) !== port) return false;
    const name = match[1]!;
    if (everywhere) return true;
    return LOOPBACK.test(boundHost) || boundHost === 'localhost' ? LOOPBACK.test(name) : name.toLowerCase() === boundHost.toLowerCase();
  };
}

/** The host part of an Origin header ("http://127.0.0.1:8080" -> "127.0.0.1:8080"); absent is fine (not a browser). */
function originHost(origin: string | undefined): string | null | undefined {
  if (origin === undefined) return undefined;
  try {
    return new URL(origin).host;
  } catch {
    return null;
  }
}

const SECURITY_HEADERS = {
  'Cache-Control': 'no-store',
  'Referrer-Policy': 'no-referrer',
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Content-Security-Policy': "default-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'",
};

function clampSize(value: string | null, max: number, fallback: number): number {
  const n = Number(value);
  return Number.isInteger(n) && n >= 1 ? Math.min(n, max) : fallback;
}

/** One browser tab ↔ one shell session. */
async function bridge(
  ws: WebSocket,
  sandbox: Sandbox,
  params: URLSearchParams,
  onEvent: NonNullable<WebTerminalOptions['onEvent']>,
): Promise<void> {
  const cols = clampSize(params.get('cols'), SHELL_MAX_COLS, 80);
  const rows = clampSize(params.get('rows'), SHELL_MAX_ROWS, 24);
  const control = (message: object) => ws.readyState === ws.OPEN && ws.send(JSON.stringify(message));
  let handle: ShellHandle;
  const attachId = params.get('attach');
  try {
    handle = attachId
      ? await sandbox.shells.attach(attachId).catch((error: unknown) => {
          if (error instanceof NotFoundError) return sandbox.shells.open({ cols, rows });
          throw error;
        })
      : await sandbox.shells.open({ cols, rows });
  } catch (error) {
    control({ type: 'error', message: error instanceof RunboxError ? error.message : String(error) });
    ws.close(1011, 'shell failed');
    return;
  }
  if (ws.readyState !== ws.OPEN) return void handle.detach();
  onEvent(handle.id === attachId ? 'attached' : 'opened', { session: handle.id });
  control({ type: 'opened', id: handle.id });
  if (handle.id === attachId) {
    if (handle.replay.length > 0) ws.send(handle.replay);
    handle.resize(cols, rows);
  }
  handle.onData((data) => ws.readyState === ws.OPEN && ws.send(data));

  ws.on('message', (data: RawData, isBinary: boolean) => {
    try {
      if (isBinary) {
        handle.write(Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer));
        return;
      }
      const message = JSON.parse((data as Buffer).toString('utf8')) as { type?: string; cols?: number; rows?: number };
      if (message.type === 'resize') {
        handle.resize(
          Math.min(Math.max(1, Number(message.cols) | 0), SHELL_MAX_COLS),
          Math.min(Math.max(1, Number(message.rows) | 0), SHELL_MAX_ROWS),
        );
      }
    } catch (error) {
      control({ type: 'error', message: (error as Error).message });
    }
  });
  // A closed tab detaches: a reload re-attaches within the agent's grace period.
  ws.on('close', () => void handle.detach());
  try {
    const exit = await handle.wait();
    onEvent('exited', { session: handle.id, exit_code: exit.exitCode });
    control({ type: 'exit', exitCode: exit.exitCode, signal: exit.signal });
    ws.close(1000, 'shell exited');
  } catch (error) {
    if (ws.readyState === ws.OPEN) {
      control({ type: 'error', message: (error as Error).message });
      ws.close(1011, 'stream ended');
    }
  }
}

/**
 * Serves the browser terminal for `sandbox` (what `runbox web` runs) and resolves once it
 * listens. Every request must carry the token as `?t=`; each WebSocket is its own shell session.
 */
export async function startWebTerminal(sandbox: Sandbox, options: WebTerminalOptions = {}): Promise<WebTerminal> {
  const token = options.token ?? randomBytes(24).toString('base64url');
  const expected = digest(token);
  const authorized = (url: URL) => timingSafeEqual(digest(url.searchParams.get('t') ?? ''), expected);
  const assets = loadAssets();
  const onEvent = options.onEvent ?? (() => {});
  const page = Buffer.from(pageHtml(token, options.title ?? 'runbox shell'));
  const app = Buffer.from(APP_SCRIPT);

  let allowedHost: (value: string | undefined) => boolean = () => false;
  // Host must name this server, and a browser's Origin must too (DNS rebinding, cross-site WebSockets).
  const sameSite = (req: http.IncomingMessage) => {
    const origin = originHost(req.headers.origin);
    return allowedHost(req.headers.host) && origin !== null && (origin === undefined || allowedHost(origin));
  };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const reply = (status: number, type: string, body: Buffer | string) => {
      res.writeHead(status, { 'Content-Type': type, ...SECURITY_HEADERS });
      res.end(body);
    };
    if (!sameSite(req)) return reply(403, 'text/plain; charset=utf-8', 'forbidden: the Host or Origin header does not name this server\n');
    if (!authorized(url))
      return reply(403, 'text/plain; charset=utf-8', 'forbidden: open the URL printed by runbox web (it carries ?t=<token>)\n');
    if (req.method !== 'GET' && req.method !== 'HEAD') return reply(405, 'text/plain; charset=utf-8', 'method not allowed\n');
    if (url.pathname === '/') return reply(200, 'text/html; charset=utf-8', page);
    if (url.pathname === '/app.js') return reply(200, 'text/javascript; charset=utf-8', app);
    const asset = assets.get(url.pathname);
    if (asset) return reply(200, asset.type, asset.body);
    reply(404, 'text/plain; charset=utf-8', 'not found\n');
  });

  const wss = new WebSocketServer({ noServer: true, maxPayload: 1 << 20 });
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== '/ws' || !sameSite(req) || !authorized(url)) {
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => void bridge(ws, sandbox, url.searchParams, onEvent));
  });

  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  allowedHost = hostAllowed(host, port);
  const shownHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
  return {
    url: `http://${shownHost}:${port}/?t=${token}`,
    token,
    port,
    close: async () => {
      for (const client of wss.clients) client.close(1001, 'server stopping');
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
