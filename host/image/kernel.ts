// Kernel for local boots: Debian's linux-image-cloud-amd64, downloaded (never installed on the host),
// unpacked, its ELF vmlinux recovered from the bzImage (Firecracker boots ELF), plus a tiny initramfs
// carrying exactly the virtio/vsock modules that this kernel builds as modules.
import { mkdir, readdir, readFile, writeFile, rm, rename, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import type { WriteStream } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { createHash } from 'node:crypto';
import { runCommand } from '../local/command.js';
import { initDir } from './paths.js';
import { BuildError } from './errors.js';

/** A kernel step's failure: which step, and what to change. */
const failed = (step: 'kernel' | 'vmlinux' | 'initramfs', message: string) => new BuildError(message, undefined, { metadata: { step } });

export const KERNEL_META_PACKAGE = 'linux-image-cloud-amd64';
/** Drivers a runbox VM needs: virtio-mmio transport (Firecracker / QEMU microvm), disk, NIC, vsock. */
// virtio_pci: the q35 fallback's devices sit on PCI, not virtio-mmio.
export const NEEDED_MODULES = ['virtio_mmio', 'virtio_pci', 'virtio_blk', 'virtio_net', 'vmw_vsock_virtio_transport'];
const BUSYBOX = '/bin/busybox';

export interface KernelFiles {
  /** e.g. "6.1.0-56-cloud-amd64" */
  release: string;
  /** Debian package name and version it came from. */
  package: string;
  packageVersion: string;
  vmlinuz: string;
  vmlinux: string;
  initrd: string;
  /** Modules in the initramfs, in load order; and those the kernel has built in. */
  modules: string[];
  builtin: string[];
}

/** Resolve the concrete linux-image package the meta package points at (apt's current lists). */
async function concretePackage(log: WriteStream): Promise<{ name: string; version: string }> {
  const deps = await runCommand(['apt-cache', 'depends', KERNEL_META_PACKAGE], { captureStdout: true, log });
  const m = /Depends:\s*(linux-image-[0-9][^\s]*)/.exec(deps);
  if (!m) throw failed('kernel', `cannot resolve ${KERNEL_META_PACKAGE} to a kernel package (run apt-get update?)`);
  const name = m[1]!;
  const policy = await runCommand(['apt-cache', 'policy', name], { captureStdout: true, log });
  const v = /Candidate:\s*(\S+)/.exec(policy);
  if (!v || v[1] === '(none)') throw failed('kernel', `no installable version of ${name} (run apt-get update?)`);
  return { name, version: v[1]! };
}

/** Download + unpack the kernel package into cacheDir (once per package version). Returns the unpack dir. */
async function unpackKernel(
  cacheDir: string,
  log: WriteStream,
  onInfo: (l: string) => void,
): Promise<{ dir: string; name: string; version: string }> {
  const { name, version } = await concretePackage(log);
  const dir = join(cacheDir, `${name}_${version}`);
  if (existsSync(join(dir, '.complete'))) return { dir, name, version };
  onInfo(`downloading ${name} ${version}`);
  await rm(dir, { recursive: true, force: true });
  await mkdir(join(dir, 'deb'), { recursive: true });
  await runCommand(['apt-get', 'download', `${name}=${version}`], { cwd: join(dir, 'deb'), log });
  const debs = (await readdir(join(dir, 'deb'))).filter((f) => f.endsWith('.deb'));
  if (debs.length !== 1) throw failed('kernel', `expected one .deb in ${join(dir, 'deb')}, found ${debs.length}`);
  await runCommand(['dpkg-deb', '-x', join(dir, 'deb', debs[0]!), join(dir, 'tree')], { log });
  await writeFile(join(dir, '.complete'), `${name} ${version}\n`);
  return { dir, name, version };
}

// ---- vmlinux from bzImage -------------------------------------------------------------------------

/**
 * The x86 boot protocol (2.08+) records where the compressed kernel sits inside the bzImage:
 * setup_sects at 0x1f1, payload_offset/payload_length at 0x248/0x24c relative to the protected-mode code.
 */
export function bzImagePayload(bz: Buffer): Buffer {
  if (bz.readUInt32LE(0x202) !== 0x53726448) throw failed('vmlinux', 'not a bzImage (no "HdrS" boot header)');
  const version = bz.readUInt16LE(0x206);
  if (version < 0x208) throw failed('vmlinux', `boot protocol ${version.toString(16)} too old to locate the payload`);
  const setupSects = bz[0x1f1] || 4;
  const pmStart = (setupSects + 1) * 512;
  const off = pmStart + bz.readUInt32LE(0x248);
  const len = bz.readUInt32LE(0x24c);
  return bz.subarray(off, off + len);
}

/** Decode one raw LZ4 block (no frame) into out starting at outPos; returns the new outPos. */
function lz4Block(src: Buffer, out: Buffer, outPos: number): number {
  let i = 0;
  let o = outPos;
  while (i < src.length) {
    const token = src[i++]!;
    let litLen = token >> 4;
    if (litLen === 15) {
      let b;
      do {
        b = src[i++]!;
        litLen += b;
      } while (b === 255);
    }
    src.copy(out, o, i, i + litLen);
    i += litLen;
    o += litLen;
    if (i >= src.length) break; // last sequence has literals only
    const offset = src[i]! | (src[i + 1]! << 8);
    i += 2;
    if (offset === 0) throw failed('vmlinux', 'lz4: zero match offset');
    let matchLen = token & 15;
    if (matchLen === 15) {
      let b;
      do {
        b = src[i++]!;
        matchLen += b;
      } while (b === 255);
    }
    matchLen += 4;
    // Byte-wise copy: matches may overlap their own output.
    for (let k = 0; k < matchLen; k++) {
      out[o] = out[o - offset]!;
      o++;
    }
  }
  return o;
}

/** LZ4 "legacy" frames (the kernel's CONFIG_KERNEL_LZ4 format): magic, then [u32 size][block]... */
function lz4Legacy(data: Buffer, expected: number): Buffer {
  if (data.readUInt32LE(0) !== 0x184c2102) throw failed('vmlinux', 'lz4: not a legacy frame');
  const out = Buffer.alloc(expected);
  let i = 4;
  let o = 0;
  while (i + 4 <= data.length) {
    const n = data.readUInt32LE(i);
    if (n === 0x184c2102) {
      i += 4;
      continue;
    }
    if (n > data.length - i - 4) break; // the trailing u32 is the decompressed size, not a block
    o = lz4Block(data.subarray(i + 4, i + 4 + n), out, o);
    i += 4 + n;
  }
  return out.subarray(0, o);
}

/** Recover the ELF vmlinux from a bzImage (gzip, xz, zstd via host tools; lz4 decoded here). */
export async function extractVmlinux(bzPath: string, outPath: string, log: WriteStream): Promise<void> {
  const payload = bzImagePayload(await readFile(bzPath));
  // Every kernel compressor appends the decompressed size as a little-endian u32.
  const size = payload.readUInt32LE(payload.length - 4);
  let elf: Buffer;
  if (payload.readUInt32LE(0) === 0x184c2102) {
    elf = lz4Legacy(payload, size);
  } else {
    const tool =
      payload[0] === 0x1f && payload[1] === 0x8b
        ? ['gzip', '-dc']
        : payload.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))
          ? ['xz', '-dc', '--single-stream']
          : payload.readUInt32LE(0) === 0xfd2fb528
            ? ['zstd', '-dc']
            : null;
    if (!tool) throw failed('vmlinux', `unknown kernel compression (magic ${payload.subarray(0, 4).toString('hex')})`);
    const tmp = `${outPath}.payload`;
    await writeFile(tmp, payload);
    const chunks: Buffer[] = [];
    const { spawn } = await import('node:child_process');
    await new Promise<void>((res, rej) => {
      const c = spawn(tool[0]!, [...tool.slice(1), tmp]);
      c.stdout.on('data', (d: Buffer) => chunks.push(d));
      c.stderr.on('data', (d: Buffer) => log.write(d));
      // gzip complains about the trailing size word; the ELF is complete anyway (checked below).
      c.on('close', () => res());
      c.on('error', (error) => rej(failed('vmlinux', `${tool[0]} could not run (install it): ${error.message}`)));
    });
    await rm(tmp, { force: true });
    elf = Buffer.concat(chunks);
  }
  if (!elf.subarray(0, 4).equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]))) throw failed('vmlinux', 'decompressed kernel is not an ELF file');
  await writeFile(outPath, elf);
}

// ---- initramfs ---------------------------------------------------------------------------------------

/** `depends=` of a module from its .modinfo strings (what depmod would put in modules.dep). */
function moduleDepends(ko: Buffer): string[] {
  const key = Buffer.from('\0depends=');
  const at = ko.indexOf(key);
  if (at < 0) return [];
  const end = ko.indexOf(0, at + key.length);
  const v = ko.subarray(at + key.length, end).toString('latin1');
  return v ? v.split(',') : [];
}

/** Every module in the tree, keyed by name (dashes normalised to underscores). */
async function moduleIndex(modRoot: string): Promise<Map<string, string>> {
  const idx = new Map<string, string>();
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.name.endsWith('.ko')) idx.set(e.name.slice(0, -3).replace(/-/g, '_'), p);
    }
  };
  await walk(join(modRoot, 'kernel'));
  return idx;
}

/** Modules to load, dependencies first; names the kernel has built in are skipped. */
export async function resolveModules(
  modRoot: string,
  wanted: string[],
): Promise<{ order: { name: string; path: string }[]; builtin: string[] }> {
  const builtinText = await readFile(join(modRoot, 'modules.builtin'), 'utf8');
  const builtinSet = new Set(
    builtinText
      .split('\n')
      .filter(Boolean)
      .map((l) => l.replace(/^.*\//, '').replace(/\.ko$/, '').replace(/-/g, '_')),
  );
  const idx = await moduleIndex(modRoot);
  const order: { name: string; path: string }[] = [];
  const builtin: string[] = [];
  const visiting = new Set<string>();
  const visit = async (name: string): Promise<void> => {
    if (order.some((m) => m.name === name) || builtin.includes(name)) return;
    if (builtinSet.has(name)) {
      builtin.push(name);
      return;
    }
    const path = idx.get(name);
    if (!path) throw failed('initramfs', `kernel module ${name} is neither built in nor present in ${modRoot}`);
    if (visiting.has(name)) throw failed('initramfs', `module dependency cycle at ${name}`);
    visiting.add(name);
    for (const dep of moduleDepends(await readFile(path))) await visit(dep.replace(/-/g, '_'));
    order.push({ name, path });
  };
  for (const w of wanted) await visit(w);
  return { order, builtin };
}

/** Minimal "newc" cpio writer with fixed owners and times, so the initramfs is reproducible. */
class Cpio {
  private parts: Buffer[] = [];
  private ino = 1;
  private entry(name: string, mode: number, data: Buffer, rdev: [number, number] = [0, 0]): void {
    const hex = (n: number) => n.toString(16).padStart(8, '0');
    const nameBuf = Buffer.from(`${name}\0`);
    const header = '070701' + [this.ino++, mode, 0, 0, 1, 0, data.length, 0, 0, rdev[0], rdev[1], nameBuf.length, 0].map(hex).join('');
    const pad = (n: number) => Buffer.alloc((4 - (n % 4)) % 4);
    this.parts.push(Buffer.from(header), nameBuf, pad(110 + nameBuf.length), data, pad(data.length));
  }
  dir(name: string): void {
    this.entry(name, 0o040755, Buffer.alloc(0));
  }
  file(name: string, data: Buffer, perm = 0o644): void {
    this.entry(name, 0o100000 | perm, data);
  }
  symlink(name: string, target: string): void {
    this.entry(name, 0o120777, Buffer.from(target));
  }
  chardev(name: string, major: number, minor: number): void {
    this.entry(name, 0o020600, Buffer.alloc(0), [major, minor]);
  }
  finish(): Buffer {
    this.entry('TRAILER!!!', 0, Buffer.alloc(0));
    return Buffer.concat(this.parts);
  }
}

export async function buildInitramfs(modRoot: string, out: string): Promise<{ modules: string[]; builtin: string[] }> {
  const { order, builtin } = await resolveModules(modRoot, NEEDED_MODULES);
  const c = new Cpio();
  for (const d of ['bin', 'dev', 'etc', 'lib', 'lib/modules', 'proc', 'sys', 'newroot']) c.dir(d);
  c.chardev('dev/console', 5, 1);
  c.file('bin/busybox', await readFile(BUSYBOX), 0o755);
  c.symlink('bin/sh', 'busybox');
  c.file('init', await readFile(join(initDir(), 'initramfs', 'init')), 0o755);
  for (const m of order) c.file(`lib/modules/${m.name}.ko`, await readFile(m.path));
  c.file('etc/modules.order', Buffer.from(order.map((m) => `${m.name}.ko\n`).join('')));
  // zlib's gzip header carries no timestamp: same input, same bytes.
  await writeFile(out, gzipSync(c.finish(), { level: 9 }));
  return { modules: order.map((m) => m.name), builtin };
}

/**
 * Ensure kernel artifacts exist in destDir: vmlinuz-<rel>, vmlinux-<rel>, initrd-<rel>-<sha256 prefix>.img.
 * The kernel package is cached in cacheDir; artifacts are rebuilt only when missing.
 */
export async function ensureKernel(cacheDir: string, destDir: string, log: WriteStream, onInfo: (l: string) => void): Promise<KernelFiles> {
  const { dir, name, version } = await unpackKernel(cacheDir, log, onInfo);
  const release = name.replace(/^linux-image-/, '');
  const tree = join(dir, 'tree');
  const modRoot = join(tree, 'lib', 'modules', release);
  await mkdir(destDir, { recursive: true });
  const vmlinuz = join(destDir, `vmlinuz-${release}`);
  const vmlinux = join(destDir, `vmlinux-${release}`);
  const srcBz = join(tree, 'boot', `vmlinuz-${release}`);
  if (!existsSync(vmlinuz) || (await stat(vmlinuz)).size !== (await stat(srcBz)).size) {
    await writeFile(`${vmlinuz}.${process.pid}.tmp`, await readFile(srcBz));
    await rename(`${vmlinuz}.${process.pid}.tmp`, vmlinuz);
  }
  if (!existsSync(vmlinux)) {
    onInfo('extracting ELF vmlinux from bzImage');
    await extractVmlinux(vmlinuz, `${vmlinux}.${process.pid}.tmp`, log);
    await rename(`${vmlinux}.${process.pid}.tmp`, vmlinux);
  }
  // The initramfs is cheap (< 1 s) and depends on init/initramfs/init: always rebuilt, byte-identical if
  // unchanged. Its name carries its content hash, so a build never changes the initrd an older entry uses.
  const tmp = join(destDir, `initrd.${process.pid}.tmp`);
  const { modules, builtin } = await buildInitramfs(modRoot, tmp);
  const digest = createHash('sha256')
    .update(await readFile(tmp))
    .digest('hex');
  const initrd = join(destDir, `initrd-${release}-${digest.slice(0, 12)}.img`);
  await rename(tmp, initrd);
  return { release, package: name, packageVersion: version, vmlinuz, vmlinux, initrd, modules, builtin };
}
