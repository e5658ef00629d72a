// runbox image pull: an image from an OCI registry into the image directory (docs/sharing.md).
import { EXIT, UsageError, printJson } from '../common.js';
import { defineCommand } from '../command.js';
import type { CliIo } from '../io.js';
import { pullImage } from '../../share/index.js';
import { formatBytes } from '../../share/progress.js';
import { TRANSFER_FLAGS, TRANSFER_HELP, credentialsFrom, progressLines, transferFlags, type TransferFlags } from './transfer-flags.js';

export const USAGE = `Usage: runbox image pull <ref> [options]

Pulls a runbox image from an OCI registry: <ref> is [oci://]host[:port]/repo[:tag|@sha256:...].
Every blob is checked against its digest and every artifact against its content id before
anything is installed; artifacts already here are not downloaded; a download broken off is
resumed by the next pull. Afterwards \`runbox vm run <image>\` boots it with no build.

Options:
${TRANSFER_HELP}`;

export interface ImagePullOptions extends TransferFlags {
  reference: string;
}

async function run(o: ImagePullOptions, io: CliIo): Promise<number> {
  const result = await pullImage(o.reference, {
    ...(o.outDir !== undefined ? { imagesDir: o.outDir } : {}),
    credentials: await credentialsFrom(o, io),
    allowHttp: o.allowHttp,
    onProgress: progressLines(io),
  });
  if (o.json) printJson(io, result);
  else {
    const kept = result.artifacts.filter((a) => !a.downloaded).map((a) => a.kind);
    io.stdout.write(
      `pulled ${result.image} (${result.init}) from ${result.reference}@${result.digest}: ${formatBytes(result.bytesDownloaded)} downloaded${kept.length ? `; already here: ${kept.join(', ')}` : ''}\n`,
    );
  }
  return EXIT.ok;
}

export const command = defineCommand({
  name: 'image pull',
  usage: USAGE,
  flags: TRANSFER_FLAGS,
  options(values, positionals): ImagePullOptions {
    if (positionals.length !== 1) throw new UsageError('image pull takes one reference: runbox image pull 127.0.0.1:5000/runbox/python:1');
    return { reference: positionals[0]!, ...transferFlags(values) };
  },
  run,
});
