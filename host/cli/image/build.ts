// runbox image build: build (or reuse from cache) a VM image from a spec name or spec file.
import { EXIT, UsageError, choice, mib, printJson } from '../common.js';
import { defineCommand } from '../command.js';
import type { CliIo } from '../io.js';
import { buildImage, defaultImagesDir, type BuildOptions, type BuildResult } from '../../image/index.js';

export const USAGE = `Usage: runbox image build <name|spec.json> [--init systemd|openrc] [--out DIR] [--agent-dir DIR] [--force] [--json]

Builds a per-language VM image (ext4 root filesystem + kernel + initramfs) from a spec in
init/images/ (bash, python, nodejs, go, rust, python-jwt) or your own spec file that
"extends" one of them. Cached: a build whose spec and agent did not change is reused.
Building needs root and the Debian mirror.

Options:
      --init I        init system inside the image: systemd (default) or openrc
      --out DIR       image directory (default: $RUNBOX_HOME/images, RUNBOX_HOME=~/.cache/runbox)
      --agent-dir DIR agent bundle to install (default: <repo>/dist/agent, from \`npm run build\`)
      --force         rebuild even if the cache says nothing changed
      --json          machine-readable output
  -h, --help          show this help
`;

export interface ImageBuildOptions {
  spec: string;
  build: Pick<BuildOptions, 'init' | 'agentDir' | 'force'>;
  /** --out; the default comes from $RUNBOX_HOME when running. */
  outDir?: string;
  json: boolean;
}

function summary(r: BuildResult, seconds: number): string {
  const e = r.entry;
  return `${r.cached ? 'cached' : 'built'} ${e.name} (${e.init}) in ${seconds.toFixed(1)} s
  rootfs  ${r.paths.rootfs}  ${mib(e.rootfs.size)}, ${e.rootfs.blocksUsed} blocks used  ${e.rootfs.id}
  kernel  ${r.paths.kernel}  ${e.kernel.id}
  vmlinux ${r.paths.vmlinux}  ${e.vmlinux.id}
  initrd  ${r.paths.initrd}  ${e.initrd.id}
  boot    ${e.bootArgs}
  log     ${r.paths.log}
`;
}

async function run(o: ImageBuildOptions, io: CliIo): Promise<number> {
  const t0 = Date.now();
  const r = await buildImage(o.spec, {
    ...o.build,
    outDir: o.outDir ?? defaultImagesDir(io.env),
    onProgress: (e) => io.stderr.write(`[${e.elapsed.toFixed(1).padStart(6)}s] ${e.stage.padEnd(11)} ${e.message}\n`),
  });
  if (o.json) printJson(io, { cached: r.cached, paths: r.paths, entry: r.entry });
  else io.stdout.write(summary(r, (Date.now() - t0) / 1000));
  return EXIT.ok;
}

export const command = defineCommand({
  name: 'image build',
  usage: USAGE,
  flags: {
    init: { type: 'string' },
    out: { type: 'string' },
    'agent-dir': { type: 'string' },
    force: { type: 'boolean' },
    json: { type: 'boolean' },
  } as const,
  options(values, positionals): ImageBuildOptions {
    if (positionals.length !== 1) throw new UsageError('image build takes exactly one spec name or spec file');
    return {
      spec: positionals[0]!,
      build: {
        init: choice('init', values.init, ['systemd', 'openrc'] as const),
        agentDir: values['agent-dir'],
        force: values.force,
      },
      ...(values.out !== undefined ? { outDir: values.out } : {}),
      json: values.json ?? false,
    };
  },
  run,
});
