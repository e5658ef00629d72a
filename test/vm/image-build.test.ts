// Builds real images through the host/image API (mmdebstrap + mkfs.ext4; needs root and the Debian
// mirror) and inspects them without mounting (debugfs). Booting them is test/vm's VM tests' job.
// Images go to $RUNBOX_HOME/images (shared with the VM tests; unchanged specs are cache hits).
import { describe, it, expect, beforeAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, openSync, writeSync, closeSync, cpSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildImage, verifyImages, listImages, defaultImagesDir, type BuildResult, type InitSystem } from '../../host/image/index.js';
import { IN_CI } from '../helpers/required.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SOURCE_AGENT_DIR = process.env.RUNBOX_AGENT_DIR ?? path.join(REPO, 'dist/agent');
// A snapshot, so a rebuild of dist/agent during this (long) test cannot turn the cache-hit check into a miss.
const AGENT_DIR = mkdtempSync(path.join(os.tmpdir(), 'runbox-agent-snap-'));
if (existsSync(SOURCE_AGENT_DIR)) cpSync(SOURCE_AGENT_DIR, AGENT_DIR, { recursive: true });
// Shared with the VM tests (RUNBOX_TEST_IMAGES_DIR, else $RUNBOX_HOME/images): unchanged specs are cache hits.
const OUT = process.env.RUNBOX_TEST_IMAGES_DIR ?? defaultImagesDir();
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/** Images to build, and a file each must contain. RUNBOX_TEST_IMAGES=bash,python narrows the list. */
const ALL_IMAGES: { name: string; init: InitSystem; mustHave: string[]; mustNotHave?: string[] }[] = [
  { name: 'bash', init: 'systemd', mustHave: ['/usr/bin/bash'] },
  { name: 'python', init: 'systemd', mustHave: ['/usr/bin/python3', '/usr/lib/python3/dist-packages/IPython/__init__.py'] },
  { name: 'nodejs', init: 'systemd', mustHave: ['/usr/bin/node', '/usr/bin/tsc'] },
  { name: 'go', init: 'systemd', mustHave: ['/usr/lib/go-1.23/bin/go', '/var/cache/runbox/go-build/README'] },
  { name: 'rust', init: 'systemd', mustHave: ['/usr/bin/rustc', '/usr/bin/cc'] },
  { name: 'python-jwt', init: 'systemd', mustHave: ['/usr/lib/python3/dist-packages/jwt/__init__.py'] },
  {
    name: 'python-data',
    init: 'systemd',
    mustHave: ['/usr/lib/python3/dist-packages/pandas/__init__.py', '/usr/lib/python3/dist-packages/matplotlib_inline/backend_inline.py'],
    // The spec's path filters: the compiler Debian's scipy -> pythran dependency brings.
    mustNotHave: ['/usr/include/boost', '/usr/lib/gcc/x86_64-linux-gnu/12/cc1plus'],
  },
  { name: 'bash', init: 'openrc', mustHave: ['/sbin/openrc-init', '/etc/init.d/runbox-agent'] },
];
const IMAGES = ALL_IMAGES.filter((i) => !process.env.RUNBOX_TEST_IMAGES || process.env.RUNBOX_TEST_IMAGES.split(',').includes(i.name));

function debugfs(image: string, request: string): string {
  return execFileSync('debugfs', ['-R', request, image], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Inode fields of a path inside the image (mode, uid, gid, type), or undefined when absent. */
function statIn(image: string, p: string): { type: string; mode: number; uid: number; gid: number } | undefined {
  let out: string;
  try {
    out = debugfs(image, `stat ${p}`);
  } catch {
    return undefined;
  }
  const m = /Type: (\S+)\s+Mode:\s+(\d+)/.exec(out);
  const u = /User:\s+(\d+)\s+Group:\s+(\d+)/.exec(out);
  if (!m || !u) return undefined;
  return { type: m[1]!, mode: parseInt(m[2]!, 8), uid: Number(u[1]), gid: Number(u[2]) };
}

function catIn(image: string, p: string): string {
  return debugfs(image, `cat ${p}`);
}
function bytesIn(image: string, p: string): Buffer {
  return execFileSync('debugfs', ['-R', `cat ${p}`, image], { stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 256 * 1024 * 1024 });
}

const sha = (f: string) => execFileSync('sha256sum', [f], { encoding: 'utf8' }).split(' ')[0];

const built = new Map<string, BuildResult>();
const report: string[] = [];

describe.skipIf(!IN_CI && (!isRoot || !existsSync(path.join(AGENT_DIR, 'runbox-agent.js'))))('image builder', () => {
  beforeAll(async () => {
    for (const img of IMAGES) {
      const t0 = Date.now();
      const r = await buildImage(img.name, {
        init: img.init,
        outDir: OUT,
        agentDir: AGENT_DIR,
        onProgress: (e) => {
          if (e.stage !== 'debootstrap') console.log(`  ${img.name}/${img.init} [${e.elapsed}s] ${e.stage}: ${e.message}`);
        },
      });
      built.set(`${img.name}/${img.init}`, r);
      report.push(
        `${img.name}/${img.init}: ${r.cached ? 'cache hit' : 'built'} in ${((Date.now() - t0) / 1000).toFixed(1)} s, ` +
          `file ${(r.entry.rootfs.size / 1048576).toFixed(0)} MiB (allocated ${(r.entry.rootfs.allocatedBytes / 1048576).toFixed(0)} MiB), ` +
          `${r.entry.rootfs.blocksUsed}/${r.entry.rootfs.blocksTotal} blocks used`,
      );
    }
    console.log(`image builds:\n  ${report.join('\n  ')}`);
  });

  for (const img of IMAGES) {
    describe(`${img.name} (${img.init})`, () => {
      const get = () => built.get(`${img.name}/${img.init}`)!;

      it('passes e2fsck -fn', () => {
        // Throws (non-zero exit) on any inconsistency.
        const out = execFileSync('e2fsck', ['-fn', get().paths.rootfs], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
        expect(out).toMatch(/\d+\/\d+ files .*, \d+\/\d+ blocks/);
      });

      it('has a manifest entry whose artifacts match their content ids', async () => {
        const r = get();
        const entry = (await listImages(OUT)).find((e) => e.name === img.name && e.init === img.init)!;
        expect(entry).toBeDefined();
        expect(entry.rootfs.id).toBe(`sha256:${sha(r.paths.rootfs)}`);
        expect(entry.vmlinux.id).toBe(`sha256:${sha(r.paths.vmlinux)}`);
        expect(entry.init).toBe(img.init);
        expect(entry.packages.find((p) => p.name === 'nodejs')?.version).toMatch(/^18\./);
        // apt is purged after the build (user code cannot use it); dpkg and its database stay.
        expect(entry.packages.map((p) => p.name)).not.toContain('apt');
        expect(entry.packages.map((p) => p.name)).toContain('dpkg');
        for (const [lang, info] of Object.entries(entry.languages)) {
          expect(info.version, lang).toMatch(/^\d/);
          expect(entry.packages.find((p) => p.name === info.package)?.version).toBe(info.version);
        }
        const v = await verifyImages(OUT, { name: img.name, init: img.init });
        expect(v.checked).toBe(4);
        expect(v.problems).toEqual([]);
      });

      it('contains the agent, its start script and the services', () => {
        const fs = get().paths.rootfs;
        for (const f of readdirAgent()) {
          expect(bytesIn(fs, `/opt/runbox/${f}`).equals(readFileSync(path.join(AGENT_DIR, f))), f).toBe(true);
        }
        expect(statIn(fs, '/opt/runbox/start-agent')).toMatchObject({ type: 'regular', uid: 0, mode: 0o755 });
        if (img.init === 'systemd') {
          expect(catIn(fs, '/etc/systemd/system/runbox-agent.service')).toBe(
            readFileSync(path.join(REPO, 'init/systemd/runbox-agent.service'), 'utf8'),
          );
          expect(catIn(fs, '/etc/systemd/system/runbox-vsock.service')).toContain('VSOCK-LISTEN:5000');
          for (const u of ['runbox-agent', 'runbox-vsock', 'runbox-net']) {
            expect(statIn(fs, `/etc/systemd/system/sysinit.target.wants/${u}.service`)?.type, u).toBe('symlink');
          }
          expect(statIn(fs, '/etc/systemd/system/getty@.service')?.type).toBe('symlink'); // masked -> /dev/null
        } else {
          expect(catIn(fs, '/etc/init.d/runbox-agent')).toContain('supervise-daemon');
          for (const s of ['runbox-agent', 'runbox-vsock', 'runbox-net']) {
            expect(statIn(fs, `/etc/runlevels/default/${s}`)?.type, s).toBe('symlink');
          }
          expect(catIn(fs, '/etc/rc.conf')).toMatch(/^rc_cgroup_mode="unified"/m);
        }
      });

      it('has the runbox user, its directories and the language files', () => {
        const fs = get().paths.rootfs;
        expect(catIn(fs, '/etc/passwd')).toMatch(/^runbox:x:1000:1000::\/home\/runbox:\/bin\/bash$/m);
        expect(statIn(fs, '/home/runbox')).toMatchObject({ type: 'directory', uid: 1000, gid: 1000 });
        // The cache is root's (the agent chowns its children: none may be a link the user planted);
        // only the Go build cache and GOPATH inside it are the user's.
        expect(statIn(fs, '/var/cache/runbox')).toMatchObject({ type: 'directory', uid: 0 });
        expect(statIn(fs, '/var/cache/runbox/go-build')).toMatchObject({ type: 'directory', uid: 1000 });
        expect(statIn(fs, '/var/cache/runbox/gopath')).toMatchObject({ type: 'directory', uid: 1000 });
        expect(statIn(fs, '/var/lib/runbox/runs')).toMatchObject({ type: 'directory', uid: 0 });
        expect(catIn(fs, '/etc/hostname')).toBe('runbox\n');
        expect(catIn(fs, '/etc/fstab')).toMatch(/^\/dev\/vda\s+\/\s+ext4/m);
        const meta = JSON.parse(catIn(fs, '/etc/runbox/image.json')) as { name: string; languages: Record<string, { version: string }> };
        expect(meta.name).toBe(img.name);
        expect(meta.languages).toEqual(get().entry.languages);
        for (const f of img.mustHave) expect(statIn(fs, f), f).toBeDefined();
        for (const f of img.mustNotHave ?? []) expect(statIn(fs, f), f).toBeUndefined();
        // Docs, man pages and locales are never unpacked.
        expect(debugfs(fs, 'ls -l /usr/share/man')).not.toMatch(/man1/);
      });
    });
  }

  it('shares one kernel, vmlinux and initramfs carrying exactly the virtio/vsock modules', () => {
    const r = built.values().next().value!;
    const elf = readFileSync(r.paths.vmlinux).subarray(0, 4);
    expect(elf.toString('latin1')).toBe('\x7fELF');
    const cpio = gunzipSync(readFileSync(r.paths.initrd)).toString('latin1');
    for (const m of r.entry.initrd.modules) expect(cpio).toContain(`lib/modules/${m}.ko`);
    expect(r.entry.initrd.modules).toEqual(
      expect.arrayContaining(['virtio_mmio', 'virtio_blk', 'virtio_net', 'vmw_vsock_virtio_transport', 'vsock']),
    );
    // Dependencies load first.
    const order = r.entry.initrd.modules;
    expect(order.indexOf('virtio_ring')).toBeLessThan(order.indexOf('virtio_mmio'));
    expect(order.indexOf('vsock')).toBeLessThan(order.indexOf('vmw_vsock_virtio_transport'));
    console.log(
      `kernel ${r.entry.kernel.release}: bzImage ${r.entry.kernel.size} B, vmlinux ${r.entry.vmlinux.size} B, initrd ${r.entry.initrd.size} B (${order.join(' ')})`,
    );
  });

  it('two clean builds of the bash image are byte-identical, a rebuild is a cache hit, verify catches a changed artifact', async () => {
    const a = mkdtempSync(path.join(os.tmpdir(), 'runbox-repro-a-'));
    const b = mkdtempSync(path.join(os.tmpdir(), 'runbox-repro-b-'));
    try {
      const ra = await buildImage('bash', { outDir: a, agentDir: AGENT_DIR, force: true });
      const rb = await buildImage('bash', { outDir: b, agentDir: AGENT_DIR, force: true });
      expect(ra.cached).toBe(false);
      expect(rb.cached).toBe(false);

      // Nothing changed: the same call again is a cache hit (a private directory, so no other build interferes).
      const t0 = Date.now();
      const again = await buildImage('bash', { outDir: a, agentDir: AGENT_DIR });
      expect(again.cached).toBe(true);
      expect(again.entry.rootfs.id).toBe(ra.entry.rootfs.id);
      console.log(`cache hit for bash/systemd: ${Date.now() - t0} ms`);
      console.log(`reproducibility: ${ra.entry.rootfs.id} vs ${rb.entry.rootfs.id}`);
      expect(rb.entry.rootfs.id).toBe(ra.entry.rootfs.id);
      expect(rb.entry.initrd.id).toBe(ra.entry.initrd.id);
      expect(rb.entry.vmlinux.id).toBe(ra.entry.vmlinux.id);

      // Flip one byte of the initramfs copy in b: verify must name exactly that artifact.
      const fd = openSync(rb.paths.initrd, 'r+');
      writeSync(fd, Buffer.from([0xff]), 0, 1, 100);
      closeSync(fd);
      const v = await verifyImages(b);
      expect(v.problems).toHaveLength(1);
      expect(v.problems[0]).toMatchObject({ image: 'bash', artifact: 'initrd', problem: 'content' });
      cpSync(ra.paths.initrd, rb.paths.initrd);
      expect((await verifyImages(b)).problems).toEqual([]);
    } finally {
      rmSync(a, { recursive: true, force: true });
      rmSync(b, { recursive: true, force: true });
    }
  });
});

function readdirAgent(): string[] {
  return execFileSync('ls', ['-1', AGENT_DIR], { encoding: 'utf8' }).split('\n').filter(Boolean);
}

// The guest's network script, run on the host against a fake /proc/cmdline (bind-mounted in a private
// mount namespace) with an `ip` stand-in that prints its argv: checks the parsing, not the kernel.
describe.skipIf(!IN_CI && !isRoot)('init/runbox/net-setup', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'runbox-net-'));
  execFileSync('mkdir', ['-p', path.join(dir, 'bin')]);
  execFileSync('sh', ['-c', 'printf "#!/bin/sh\\necho \\"ip \\$*\\"\\n" > "$1/bin/ip"; chmod +x "$1/bin/ip"', 'sh', dir]);
  const netSetup = (cmdline: string): { code: number; out: string } => {
    execFileSync('sh', ['-c', 'printf "%s\\n" "$2" > "$1/cmdline"', 'sh', dir, cmdline]);
    try {
      const out = execFileSync(
        'unshare',
        [
          '--mount',
          '--propagation',
          'private',
          'sh',
          '-c',
          'mount --bind "$1/cmdline" /proc/cmdline && PATH="$1/bin:$PATH" exec sh "$2"',
          'sh',
          dir,
          path.join(REPO, 'init/runbox/net-setup'),
        ],
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
      );
      return { code: 0, out };
    } catch (e) {
      const err = e as { status: number; stdout: string; stderr: string };
      return { code: err.status, out: err.stdout + err.stderr };
    }
  };

  it("configures Firecracker's ip= convention", () => {
    const r = netSetup('console=ttyS0 ip=172.16.0.2::172.16.0.1:255.255.255.252::eth0:off quiet');
    expect(r.code).toBe(0);
    expect(r.out).toContain('ip addr replace 172.16.0.2/30 dev eth0');
    expect(r.out).toContain('ip link set eth0 up');
    expect(r.out).toContain('ip route replace default via 172.16.0.1 dev eth0');
  });

  it('leaves only loopback without ip=', () => {
    const r = netSetup('root=/dev/vda rw');
    expect(r.code).toBe(0);
    expect(r.out).not.toContain('addr');
  });

  it.each([
    ['ip=172.16.0.2::172.16.0.1:255.255.255.252::eth0;reboot:off', 'unexpected characters'],
    ['ip=$(reboot)', 'unexpected characters'],
    ['ip=172.16.0.300::172.16.0.1:255.255.255.252::eth0:off', 'bad client address'],
    ['ip=172.16.0.2::172.16.0.1:255.0.255.0::eth0:off', 'non-contiguous netmask'],
    ['ip=172.16.0.2::172.16.0.x1:255.255.255.252::eth0:off', 'bad gateway'],
    ['ip=172.16.0.2::172.16.0.1:255.255.255.252::eth/0:off', 'unexpected characters'],
    ['ip=172.16.0.2::172.16.1:255.255.255.252::eth0:off', 'bad gateway'],
  ])('rejects %s', (cmdline, message) => {
    const r = netSetup(cmdline);
    expect(r.code).not.toBe(0);
    expect(r.out).toContain(message);
    expect(r.out).not.toContain('ip addr');
  });
});
