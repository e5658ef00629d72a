// runbox image verify: re-hash every artifact of the built images against the manifest.
import { join } from 'node:path';
import { EXIT, UsageError, choice, printJson } from '../common.js';
import { defineCommand } from '../command.js';
import type { CliIo } from '../io.js';
import { NotFoundError } from '../../errors.js';
import { MANIFEST_FILE, defaultImagesDir, verifyImages, type InitSystem } from '../../image/index.js';

export const USAGE = `Usage: runbox image verify [<name>] [--init systemd|openrc] [--out DIR] [--json]

Re-hashes every artifact (rootfs, kernel, vmlinux, initrd) of the built images, or of image
<name>, and compares size and content with the manifest. Exit status: 0 when everything
matches, 1 when something is missing or differs (each mismatch is printed), 125 when there is
nothing to verify.

Options:
      --init I        with <name>: only that image's systemd or openrc build (default: both)
      --out DIR       image directory (default: $RUNBOX_HOME/images, RUNBOX_HOME=~/.cache/runbox)
      --json          machine-readable output
  -h, --help          show this help
`;

/** verify found a mismatch: a result, like cmp(1), not a failure of runbox (125). */
export const EXIT_MISMATCH = 1;

export interface ImageVerifyOptions {
  only?: { name: string; init?: InitSystem };
  outDir?: string;
  json: boolean;
}

async function run(o: ImageVerifyOptions, io: CliIo): Promise<number> {
  const outDir = o.outDir ?? defaultImagesDir(io.env);
  const { checked, problems } = await verifyImages(outDir, o.only);
  if (o.json) {
    printJson(io, { checked, problems });
  } else {
    for (const p of problems) {
      io.stdout.write(`MISMATCH ${p.image} (${p.init}) ${p.artifact} ${p.file}: ${p.problem}: expected ${p.expected}, found ${p.actual}\n`);
    }
    io.stdout.write(`${checked} artifacts checked against ${join(outDir, MANIFEST_FILE)}, ${problems.length} mismatches\n`);
  }
  if (checked === 0)
    throw new NotFoundError(o.only ? `image verify: no image ${o.only.name} in ${outDir}` : `image verify: no images in ${outDir}`);
  return problems.length ? EXIT_MISMATCH : EXIT.ok;
}

export const command = defineCommand({
  name: 'image verify',
  usage: USAGE,
  flags: { init: { type: 'string' }, out: { type: 'string' }, json: { type: 'boolean' } } as const,
  options(values, positionals): ImageVerifyOptions {
    if (positionals.length > 1) throw new UsageError('image verify takes at most one image name');
    const init = choice('init', values.init, ['systemd', 'openrc'] as const);
    if (init !== undefined && positionals.length === 0)
      throw new UsageError('image verify: --init selects a build of one image: name it, e.g. runbox image verify python --init openrc');
    return {
      ...(positionals[0] !== undefined ? { only: { name: positionals[0], ...(init !== undefined ? { init } : {}) } } : {}),
      ...(values.out !== undefined ? { outDir: values.out } : {}),
      json: values.json ?? false,
    };
  },
  run,
});
