// runbox image ls: the images built in an image directory.
import { EXIT, UsageError, mib, printJson } from '../common.js';
import { defineCommand } from '../command.js';
import type { CliIo } from '../io.js';
import { defaultImagesDir, listImages, type ImageEntry } from '../../image/index.js';

export const USAGE = `Usage: runbox image ls [--out DIR] [--json]

Lists the images built in the image directory (its manifest.json): name, init system, root
filesystem size and content id, and the languages with their versions. Also: runbox image list.

Options:
      --out DIR       image directory (default: $RUNBOX_HOME/images, RUNBOX_HOME=~/.cache/runbox)
      --json          machine-readable output (the manifest's entries)
  -h, --help          show this help
`;

export interface ImageLsOptions {
  outDir?: string;
  json: boolean;
}

function lsLine(e: ImageEntry): string {
  const langs =
    Object.entries(e.languages)
      .map(([l, i]) => `${l} ${i.version}`)
      .join(', ') || '-';
  return [e.name.padEnd(12), e.init.padEnd(8), mib(e.rootfs.size).padStart(8), `${e.rootfs.id.slice(0, 19)}`, langs].join('  ');
}

async function run(o: ImageLsOptions, io: CliIo): Promise<number> {
  const outDir = o.outDir ?? defaultImagesDir(io.env);
  const images = await listImages(outDir);
  if (o.json) {
    printJson(io, images);
  } else if (images.length === 0) {
    io.stdout.write(`no images in ${outDir} (build one: runbox image build python)\n`);
  } else {
    io.stdout.write(`${'NAME'.padEnd(12)}  ${'INIT'.padEnd(8)}  ${'SIZE'.padStart(8)}  ${'ROOTFS ID'.padEnd(19)}  LANGUAGES\n`);
    for (const e of images) io.stdout.write(lsLine(e) + '\n');
  }
  return EXIT.ok;
}

export const command = defineCommand({
  name: 'image ls',
  usage: USAGE,
  flags: { out: { type: 'string' }, json: { type: 'boolean' } } as const,
  options(values, positionals): ImageLsOptions {
    if (positionals.length) throw new UsageError('image ls takes no arguments');
    return { ...(values.out !== undefined ? { outDir: values.out } : {}), json: values.json ?? false };
  },
  run,
});
