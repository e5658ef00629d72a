// runbox image publish: a built image into a listing directory any static server can serve (docs/sharing.md).
import { EXIT, UsageError, printJson } from '../common.js';
import { defineCommand } from '../command.js';
import type { CliIo } from '../io.js';
import { publishImage } from '../../share/index.js';
import { imageAndInit } from './push.js';
import { progressLines } from './transfer-flags.js';
import type { InitSystem } from '../../image/index.js';

export const USAGE = `Usage: runbox image publish <image>[/<init>] --to <dir|listing.json> --uri-base <url> [options]

Copies the image's artifacts, compressed and named by content id, into <dir> and adds them
to its bundles.json (or the listing file given): one bundle per artifact with its kind, name,
version, file, content id, digest, size and URI (<url>/<file>), and the image's entry under
its version. Serve the directory with any static web server or git host; pull with
\`runbox image pull --listing <url>/bundles.json <image>[@<version>]\`.

Options:
      --to D|FILE      the listing directory (its listing is D/bundles.json), or the
                       listing file itself (a path ending in .json; the artifacts go
                       beside it); created if missing
      --uri-base URL   where the directory will be served from
      --version V      the version to list it as (default: the first 12 hex of its cache key)
      --out DIR        image directory (default: $RUNBOX_HOME/images, RUNBOX_HOME=~/.cache/runbox)
      --json           machine-readable result on stdout
  -h, --help           show this help
`;

export interface ImagePublishOptions {
  image: string;
  init: InitSystem;
  to: string;
  uriBase: string;
  version?: string;
  outDir?: string;
  json: boolean;
}

async function run(o: ImagePublishOptions, io: CliIo): Promise<number> {
  const result = await publishImage(o.image, o.init, {
    to: o.to,
    uriBase: o.uriBase,
    ...(o.version !== undefined ? { version: o.version } : {}),
    ...(o.outDir !== undefined ? { imagesDir: o.outDir } : {}),
    onProgress: progressLines(io),
  });
  if (o.json) printJson(io, result);
  else io.stdout.write(`published ${o.image}@${result.version} in ${result.listing} (${result.copied.length} files copied)\n`);
  return EXIT.ok;
}

export const command = defineCommand({
  name: 'image publish',
  usage: USAGE,
  flags: {
    to: { type: 'string' },
    'uri-base': { type: 'string' },
    version: { type: 'string' },
    out: { type: 'string' },
    json: { type: 'boolean' },
  } as const,
  options(values, positionals): ImagePublishOptions {
    if (positionals.length !== 1)
      throw new UsageError('image publish takes one image: runbox image publish python --to ./site --uri-base https://example.org/runbox');
    if (values.to === undefined || values['uri-base'] === undefined)
      throw new UsageError('image publish needs --to <dir|listing.json> and --uri-base <url>');
    return {
      ...imageAndInit(positionals[0]!),
      to: values.to,
      uriBase: values['uri-base'],
      ...(values.version !== undefined ? { version: values.version } : {}),
      ...(values.out !== undefined ? { outDir: values.out } : {}),
      json: values.json ?? false,
    };
  },
  run,
});
