// A real OCI registry for the sharing tests: Debian's docker-registry (the CNCF distribution
// server) on a loopback port, its storage in a temporary directory, open or behind htpasswd
// (bcrypt at the lowest cost, 2^4: the server checks it on every request; made by Python's crypt). Stopped and removed by stop().
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const REGISTRY_BINARY = '/usr/bin/docker-registry';
export const hasRegistry = existsSync(REGISTRY_BINARY);

async function freePort(): Promise<number> {
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
  /** Starts it again on the same port and storage. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function startRegistry(auth?: { username: string; password: string }): Promise<TestRegistry> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'runbox-registry-'));
  const storage = path.join(dir, 'storage');
  const port = await freePort();
  const lines = [
    'version: 0.1',
    'log: { level: error }',
    `storage: { filesystem: { rootdirectory: ${storage} }, delete: { enabled: true } }`,
    `http: { addr: 127.0.0.1:${port} }`,
  ];
  if (auth) {
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
    stop: async () => {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
