// runbox image push: a built image to an OCI registry (docs/sharing.md).
import { EXIT, UsageError, printJson } from '../common.js';
import { defineCommand } from '../command.js';
import type { CliIo } from '../io.js';
import { pushImage } from '../../share/index.js';
import { formatBytes } from '../../share/progress.js';
import { TRANSFER_FLAGS, TRANSFER_HELP, credentialsFrom, progressLines, transferFlags, type TransferFlags } from './transfer-flags.js';
import type { InitSystem } from '../../image/index.js';

export const USAGE = `Usage: runbox image push <image>[/<init>] <ref> [options]

Pushes a built image to an OCI registry as one artifact: its manifest entry as the config,
its rootfs (gzip; holes cost nothing), kernel, vmlinux (gzip) and initramfs as layers, then
the manifest under the tag. <ref> is [oci://]host[:port]/repo:tag. Blobs the registry
already has are not uploaded again. Prints the manifest digest: <host>/<repo>@<digest>
names exactly this push.

Options:
${TRANSFER_HELP}`;

export interface ImagePushOptions extends TransferFlags {
  image: string;
  init: InitSystem;
  reference: string;
}

async function run(o: ImagePushOptions, io: CliIo): Promise<number> {
  const result = await pushImage(o.image, o.init, o.reference, {
    ...(o.outDir !== undefined ? { imagesDir: o.outDir } : {}),
    credentials: await credentialsFrom(o, io),
    allowHttp: o.allowHttp,
    onProgress: progressLines(io),
  });
  if (o.json) printJson(io, result);
  else io.stdout.write(`pushed ${result.reference}@${result.digest} (${formatBytes(result.bytesUploaded)} uploaded)\n`);
  return EXIT.ok;
}

/** `python`, `python/openrc` → name and init. */
export function imageAndInit(spec: string): { image: string; init: InitSystem } {
  const [image, init = 'systemd', ...rest] = spec.split('/');
  if (!image || rest.length > 0 || (init !== 'systemd' && init !== 'openrc')) {
    throw new UsageError(`${JSON.stringify(spec)}: name an image as <name> or <name>/<init> (init: systemd or openrc)`);
  }
  return { image, init };
}

export const command = defineCommand({
  name: 'image push',
  usage: USAGE,
  flags: TRANSFER_FLAGS,
  options(values, positionals): ImagePushOptions {
    if (positionals.length !== 2)
      throw new UsageError('image push takes an image and a reference: runbox image push python 127.0.0.1:5000/runbox/python:1');
    return { ...imageAndInit(positionals[0]!), reference: positionals[1]!, ...transferFlags(values) };
  },
  run,
});
