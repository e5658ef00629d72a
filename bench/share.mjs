// Sharing figures for one built image, all in this process, against baselines run here: push
// to a registry on loopback (Debian's docker-registry) and its bytes against the rootfs size;
// pull into an empty image directory against skopeo copying the same artifact (an independent
// client moving the same blobs, without decompressing or checking content ids); a second pull
// (everything there) against the first; a push of the same image again. Prints figures; asserts
// nothing. Needs a built image, `npm run build`, docker-registry and skopeo (init/setup-host.sh).
//   node bench/share.mjs [--image python] [--runs 3]
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { pushImage, pullImage, readManifest, findImage, defaultImagesDir } from '../dist/host/vm.js';

const { values } = parseArgs({ options: { image: { type: 'string', default: 'python' }, runs: { type: 'string', default: '3' } } });
const image = values.image;
const runs = Number(values.runs);
const MiB = (n) => `${(n / 2 ** 20).toFixed(0)} MiB`;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

/** docker-registry on a loopback port with its storage in `dir`; resolves once /v2/ answers. */
async function startRegistry(dir) {
  const port = await freePort();
  const config = path.join(dir, 'config.yml');
  writeFileSync(
    config,
    [
      'version: 0.1',
      'log: { level: error }',
      `storage: { filesystem: { rootdirectory: ${path.join(dir, 'storage')} } }`,
      `http: { addr: 127.0.0.1:${port} }`,
    ].join('\n') + '\n',
  );
  const child = spawn('/usr/bin/docker-registry', ['serve', config], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    const up = await fetch(`http://127.0.0.1:${port}/v2/`).then(
      (r) => r.ok,
      () => false,
    );
    if (up) return { host: `127.0.0.1:${port}`, stop: () => child.kill('SIGKILL') };
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error('docker-registry did not answer on /v2/ within 10 s');
}

async function timed(what) {
  const start = performance.now();
  const value = await what();
  return { value, seconds: (performance.now() - start) / 1000 };
}

const work = mkdtempSync(path.join(os.tmpdir(), 'runbox-bench-share-'));
const registry = await startRegistry(work);
try {
  const imagesDir = defaultImagesDir();
  const entry = findImage(await readManifest(imagesDir), image, 'systemd');
  if (!entry) throw new Error(`${image} is not built: runbox image build ${image}`);
  const ref = `${registry.host}/runbox/${image}:bench`;

  const push = await timed(() => pushImage(image, 'systemd', ref, { imagesDir }));
  const again = await timed(() => pushImage(image, 'systemd', ref, { imagesDir }));
  const rootfsLayer = push.value.layers.find((l) => l.kind === 'rootfs');

  const pulls = [];
  const seconds = { skopeo: [], pull: [], second: [] };
  for (let i = 0; i < runs; i++) {
    const dir = path.join(work, `skopeo-${i}`);
    const skopeo = await timed(async () =>
      execFileSync('skopeo', ['copy', '--quiet', '--src-tls-verify=false', `docker://${ref}`, `dir:${dir}`], { stdio: 'ignore' }),
    );
    seconds.skopeo.push(skopeo.seconds);
    rmSync(dir, { recursive: true, force: true });
    const into = path.join(work, `home-${i}`, 'images');
    const pull = await timed(() => pullImage(ref, { imagesDir: into }));
    seconds.pull.push(pull.seconds);
    pulls.push(pull.value);
    const second = await timed(() => pullImage(ref, { imagesDir: into }));
    seconds.second.push(second.seconds);
    if (second.value.bytesDownloaded !== 0) throw new Error(`second pull downloaded ${second.value.bytesDownloaded} bytes`);
    rmSync(path.join(work, `home-${i}`), { recursive: true, force: true });
  }

  const pull = median(seconds.pull);
  const skopeo = median(seconds.skopeo);
  const second = median(seconds.second);
  const lines = [
    `image ${image}: rootfs ${MiB(entry.rootfs.size)} (${MiB(entry.rootfs.allocatedBytes)} allocated), kernel ${MiB(entry.kernel.size)}, initrd ${MiB(entry.initrd.size)}, vmlinux ${MiB(entry.vmlinux.size)}`,
    `push (empty registry)         ${push.seconds.toFixed(1)} s, ${MiB(push.value.bytesUploaded)} uploaded = ${(push.value.bytesUploaded / entry.rootfs.size).toFixed(2)}x the rootfs size (rootfs layer ${MiB(rootfsLayer.size)})`,
    `push again (all there)        ${again.seconds.toFixed(1)} s, ${MiB(again.value.bytesUploaded)} uploaded = ${(again.seconds / push.seconds).toFixed(2)}x the first push`,
    `skopeo copy to dir: (baseline) ${skopeo.toFixed(1)} s  (median of ${runs})`,
    `pull into an empty directory  ${pull.toFixed(1)} s, ${MiB(pulls[0].bytesDownloaded)} downloaded = ${(pull / skopeo).toFixed(2)}x skopeo (it also decompresses, unpacks sparse and checks every content id)`,
    `second pull (all there)       ${second.toFixed(1)} s, 0 bytes = ${(second / pull).toFixed(2)}x the first pull`,
  ];
  process.stdout.write(lines.join('\n') + '\n');
} finally {
  registry.stop();
  rmSync(work, { recursive: true, force: true });
}
