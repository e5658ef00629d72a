// `runbox image build|ls|verify`: front end of host/image (the rootfs/kernel/initrd builder).
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { buildImage, listImages, verifyImages, defaultImagesDir, MANIFEST_FILE } from '../image/index.js';
import type { InitSystem, ImageEntry } from '../image/index.js';
import type { CliIo } from './io.js';
import { EXIT, UsageError, runVerb } from './common.js';
import { NotFoundError } from '../errors.js';

const USAGE = `Usage:
  runbox image build <name|spec.json> [--init systemd|openrc] [--out DIR] [--agent-dir DIR] [--force]
  runbox image ls [--out DIR] [--json]
  runbox image verify [<name>] [--init systemd|openrc] [--out DIR] [--json]

Builds per-language VM images (ext4 root filesystem + kernel + initramfs) from specs in
init/images/ (bash, python, nodejs, go, rust, python-jwt) or your own spec file that
"extends" one of them. Building needs root and the Debian mirror.

Options:
      --init I        init system inside the image: systemd (default) or openrc
      --out DIR       image directory (default: $RUNBOX_HOME/images, RUNBOX_HOME=~/.cache/runbox)
      --agent-dir DIR agent bundle to install (default: <repo>/dist/agent, from \`npm run build\`)
      --force         rebuild even if the cache says nothing changed
      --json          machine-readable output
  -h, --help          show this help
`;

/** verify found a mismatch: a result, like cmp(1), not a failure of runbox (125). */
const EXIT_MISMATCH = 1;

function parse(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        init: { type: 'string' },
        out: { type: 'string' },
        'agent-dir': { type: 'string' },
        force: { type: 'boolean' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

function initFlag(v: string | undefined): InitSystem | undefined {
  if (v === undefined) return undefined;
  if (v !== 'systemd' && v !== 'openrc') throw new UsageError(`--init ${v}: expected systemd or openrc`);
  return v;
}

const mib = (n: number) => `${(n / 1048576).toFixed(0)} MiB`;

function lsLine(e: ImageEntry): string {
  const langs = Object.entries(e.languages).map(([l, i]) => `${l} ${i.version}`).join(', ') || '-';
  return [e.name.padEnd(12), e.init.padEnd(8), mib(e.rootfs.size).padStart(8), `${e.rootfs.id.slice(0, 19)}`, langs].join('  ');
}

async function build(positionals: string[], v: ReturnType<typeof parse>['values'], io: CliIo): Promise<number> {
  if (positionals.length !== 1) throw new UsageError('image build takes exactly one spec name or spec file');
  const t0 = Date.now();
  const r = await buildImage(positionals[0]!, {
    init: initFlag(v.init),
    outDir: v.out,
    agentDir: v['agent-dir'],
    force: v.force,
    onProgress: (e) => io.stderr.write(`[${e.elapsed.toFixed(1).padStart(6)}s] ${e.stage.padEnd(11)} ${e.message}\n`),
  });
  if (v.json) {
    io.stdout.write(JSON.stringify({ cached: r.cached, paths: r.paths, entry: r.entry }, null, 2) + '\n');
  } else {
    const e = r.entry;
    io.stdout.write(`${r.cached ? 'cached' : 'built'} ${e.name} (${e.init}) in ${((Date.now() - t0) / 1000).toFixed(1)} s
  rootfs  ${r.paths.rootfs}  ${mib(e.rootfs.size)}, ${e.rootfs.blocksUsed} blocks used  ${e.rootfs.id}
  kernel  ${r.paths.kernel}  ${e.kernel.id}
  vmlinux ${r.paths.vmlinux}  ${e.vmlinux.id}
  initrd  ${r.paths.initrd}  ${e.initrd.id}
  boot    ${e.bootArgs}
  log     ${r.paths.log}
`);
  }
  return EXIT.ok;
}

async function ls(positionals: string[], v: ReturnType<typeof parse>['values'], io: CliIo): Promise<number> {
  if (positionals.length) throw new UsageError('image ls takes no arguments');
  const outDir = v.out ?? defaultImagesDir(io.env);
  const images = await listImages(outDir);
  if (v.json) {
    io.stdout.write(JSON.stringify(images, null, 2) + '\n');
  } else if (images.length === 0) {
    io.stdout.write(`no images in ${outDir} (build one: runbox image build python)\n`);
  } else {
    io.stdout.write(`${'NAME'.padEnd(12)}  ${'INIT'.padEnd(8)}  ${'SIZE'.padStart(8)}  ${'ROOTFS ID'.padEnd(19)}  LANGUAGES\n`);
    for (const e of images) io.stdout.write(lsLine(e) + '\n');
  }
  return EXIT.ok;
}

async function verify(positionals: string[], v: ReturnType<typeof parse>['values'], io: CliIo): Promise<number> {
  if (positionals.length > 1) throw new UsageError('image verify takes at most one image name');
  const outDir = v.out ?? defaultImagesDir(io.env);
  const only = positionals[0] ? { name: positionals[0], init: initFlag(v.init) } : undefined;
  const { checked, problems } = await verifyImages(outDir, only);
  if (v.json) {
    io.stdout.write(JSON.stringify({ checked, problems }, null, 2) + '\n');
  } else {
    for (const p of problems) {
      io.stdout.write(`MISMATCH ${p.image} (${p.init}) ${p.artifact} ${p.file}: ${p.problem}: expected ${p.expected}, found ${p.actual}\n`);
    }
    io.stdout.write(`${checked} artifacts checked against ${join(outDir, MANIFEST_FILE)}, ${problems.length} mismatches\n`);
  }
  if (checked === 0) throw new NotFoundError(only ? `image verify: no image ${only.name} in ${outDir}` : `image verify: no images in ${outDir}`);
  return problems.length ? EXIT_MISMATCH : EXIT.ok;
}

export function main(argv: string[], io: CliIo): Promise<number> {
  return runVerb(USAGE, io, async () => {
    const [sub, ...rest] = argv;
    if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
      (sub === undefined ? io.stderr : io.stdout).write(USAGE);
      return sub === undefined ? EXIT.usage : EXIT.ok;
    }
    const { values, positionals } = parse(rest);
    if (values.help) return (io.stdout.write(USAGE), EXIT.ok);
    switch (sub) {
      case 'build': return await build(positionals, values, io);
      case 'ls': case 'list': return await ls(positionals, values, io);
      case 'verify': return await verify(positionals, values, io);
      default: throw new UsageError(`unknown image command '${sub}': expected build, ls or verify`);
    }
  });
}
