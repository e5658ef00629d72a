// A real OCI registry for the sharing tests: Debian's docker-registry (the CNCF distribution
// server) on a loopback port, its storage in a temporary directory: open; behind htpasswd
// (bcrypt at the lowest cost, 2^4: the server checks it on every request; made by Python's
// crypt); or behind a bearer token service this helper runs (JWTs signed with a key and
// certificate it makes with openssl). Stopped and removed by stop().
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createPrivateKey, randomBytes, sign, X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const REGISTRY_BINARY = '/usr/bin/docker-registry';
export const hasRegistry = existsSync(REGISTRY_BINARY);

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

export interface TestRegistry {
  /** host:port on loopback. */
  host: string;
  /** The registry's storage root (blobs under docker/registry/v2/blobs/sha256/). */
  storage: string;
  /** The blob file of `digest` in the storage. */
  blobFile(digest: string): string;
  /** Ends the server (SIGKILL, sent before this returns: as a registry that dies), keeping its storage. */
  kill(): Promise<void>;
  /** How many tokens the bearer token service handed out (0 without one). */
  tokensIssued(): number;
  /** Starts it again on the same port and storage. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** A token service for distribution's `auth: token`: checks Basic credentials, answers a JWT signed with the key whose certificate the registry trusts. */
async function startTokenService(
  dir: string,
  auth: { username: string; password: string },
): Promise<{ url: string; cert: string; issued: () => number; close: () => Promise<void> }> {
  const key = path.join(dir, 'token.key');
  const cert = path.join(dir, 'token.crt');
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=runbox-test-token', '-days', '1', '-keyout', key, '-out', cert],
    {
      stdio: 'ignore',
    },
  );
  const privateKey = createPrivateKey(readFileSync(key));
  const der = new X509Certificate(readFileSync(cert)).raw.toString('base64');
  const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const expected = `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
  let issued = 0;
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.headers.authorization !== expected) {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"details":"bad credentials"}');
      return;
    }
    // One scope parameter per scope (a cross-repository mount asks for two), granted as asked.
    const access = url.searchParams
      .getAll('scope')
      .flatMap((scope) => scope.split(' '))
      .map((scope) => /^repository:([^:]+):(.+)$/.exec(scope))
      .filter((m): m is RegExpExecArray => m !== null)
      .map(([, name, actions]) => ({ type: 'repository', name, actions: actions!.split(',') }));
    const now = Math.floor(Date.now() / 1000);
    const claims = {
      iss: 'runbox-test-issuer',
      sub: auth.username,
      aud: url.searchParams.get('service'),
      exp: now + 300,
      nbf: now - 10,
      iat: now,
      jti: randomBytes(8).toString('hex'),
      access,
    };
    const body = `${b64({ alg: 'RS256', typ: 'JWT', x5c: [der] })}.${b64(claims)}`;
    const token = `${body}.${sign('sha256', Buffer.from(body), privateKey).toString('base64url')}`;
    issued++;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token }));
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${port}/token`, cert, issued: () => issued, close: () => new Promise((r) => server.close(() => r())) };
}

export interface RegistryAuth {
  username: string;
  password: string;
  /** basic (default): htpasswd; bearer: a token service the registry sends clients to. */
  scheme?: 'basic' | 'bearer';
}

export async function startRegistry(auth?: RegistryAuth): Promise<TestRegistry> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'runbox-registry-'));
  const storage = path.join(dir, 'storage');
  const port = await freePort();
  const lines = [
    'version: 0.1',
    'log: { level: error }',
    `storage: { filesystem: { rootdirectory: ${storage} }, delete: { enabled: true } }`,
    `http: { addr: 127.0.0.1:${port} }`,
  ];
  let tokens: Awaited<ReturnType<typeof startTokenService>> | undefined;
  if (auth?.scheme === 'bearer') {
    tokens = await startTokenService(dir, auth);
    lines.push(
      `auth: { token: { realm: "${tokens.url}", service: runbox-test, issuer: runbox-test-issuer, rootcertbundle: ${tokens.cert} } }`,
    );
  } else if (auth) {
    const hash = execFileSync(
      '/usr/bin/python3',
      [
        '-W',
        'ignore',
        '-c',
        'import crypt,sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)))',
        auth.password,
      ],
      { encoding: 'utf8' },
    ).trim();
    writeFileSync(path.join(dir, 'htpasswd'), `${auth.username}:${hash}\n`);
    lines.push(`auth: { htpasswd: { realm: runbox-test, path: ${path.join(dir, 'htpasswd')} } }`);
  }
  const config = path.join(dir, 'config.yml');
  writeFileSync(config, lines.join('\n') + '\n');
  let child: ChildProcess | undefined;
  let log = '';
  const start = async () => {
    log = '';
    child = spawn(REGISTRY_BINARY, ['serve', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d: Buffer) => (log += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`docker-registry exited ${child.exitCode}: ${log}`);
      const up = await fetch(`http://127.0.0.1:${port}/v2/`).then(
        () => true,
        () => false,
      );
      if (up) return;
      if (Date.now() > deadline) throw new Error(`docker-registry did not answer on port ${port} within 30 s: ${log}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const kill = async () => {
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child!.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  };
  await start();
  return {
    host: `127.0.0.1:${port}`,
    storage,
    blobFile: (digest) => {
      const hex = digest.replace(/^sha256:/, '');
      return path.join(storage, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
    },
    kill,
    restart: start,
    tokensIssued: () => tokens?.issued() ?? 0,
    stop: async () => {
      await kill();
      await tokens?.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A TCP front to `host` (host:port) that passes answers on at `bytesPerSecond`, so a test can
 * end the registry while a download is surely in the middle; when the registry's side closes,
 * so does the client's. Returns the front's host:port and its close().
 */
export async function slowFront(host: string, bytesPerSecond: number): Promise<{ host: string; close: () => Promise<void> }> {
  const [upHost, upPort] = [host.slice(0, host.lastIndexOf(':')), Number(host.slice(host.lastIndexOf(':') + 1))];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(upPort, upHost);
    sockets.add(client).add(upstream);
    client.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => {
      upstream.pause();
      client.write(chunk, () => setTimeout(() => upstream.resume(), (chunk.length / bytesPerSecond) * 1000));
    });
    for (const [a, b] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      a.on('error', () => b.destroy());
      a.on('close', () => {
        sockets.delete(a);
        b.destroy();
      });
    }
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    host: `127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
