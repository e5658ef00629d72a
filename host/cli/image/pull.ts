// runbox image pull: an image from an OCI registry into the image directory (docs/sharing.md).
import { EXIT, UsageError, choice, printJson } from '../common.js';
import { defineCommand } from '../command.js';
import type { CliIo } from '../io.js';
import { pullFromListing, pullImage } from '../../share/index.js';
import type { InitSystem } from '../../image/index.js';
import { formatBytes } from '../../share/progress.js';
import { TRANSFER_FLAGS, TRANSFER_HELP, credentialsFrom, progressLines, transferFlags, type TransferFlags } from './transfer-flags.js';

export const USAGE = `Usage: runbox image pull <ref> [options]
       runbox image pull --listing <path|url> <name>[@<version>] [--init I] [options]

Pulls a runbox image from an OCI registry: <ref> is [oci://]host[:port]/repo[:tag|@sha256:...].
Every blob is checked against its digest and every artifact against its content id before
anything is installed; artifacts already here are not downloaded; a download broken off is
resumed by the next pull. Afterwards \`runbox vm run <image>\` boots it with no build.
With --listing, the image comes from a listing \`runbox image publish\` made (its bundles.json,
a local path or an http(s) URL), with the same checks.

Options:
      --listing L        pull <name>[@<version>] from the listing L instead of a registry
      --init I           with --listing: the systemd (default) or openrc build
${TRANSFER_HELP}`;

export interface ImagePullOptions extends TransferFlags {
  /** A registry reference, or with `listing` the image's name[@version]. */
  reference: string;
  listing?: string;
  init?: InitSystem;
}

async function run(o: ImagePullOptions, io: CliIo): Promise<number> {
  if (o.listing !== undefined) {
    const listed = await pullFromListing(o.listing, o.reference, {
      ...(o.init !== undefined ? { init: o.init } : {}),
      ...(o.outDir !== undefined ? { imagesDir: o.outDir } : {}),
      allowHttp: o.allowHttp,
      onProgress: progressLines(io),
    });
    if (o.json) printJson(io, listed);
    else
      io.stdout.write(
        `pulled ${listed.image}@${listed.version} (${listed.init}) from ${listed.listing}: ${formatBytes(listed.bytesDownloaded)} downloaded\n`,
      );
    return EXIT.ok;
  }
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
  flags: { ...TRANSFER_FLAGS, listing: { type: 'string' }, init: { type: 'string' } } as const,
  options(values, positionals): ImagePullOptions {
    if (positionals.length !== 1)
      throw new UsageError(
        'image pull takes one reference (runbox image pull 127.0.0.1:5000/runbox/python:1) or, with --listing, one image name',
      );
    const init = choice('init', values.init, ['systemd', 'openrc'] as const);
    if (values.listing === undefined && init !== undefined)
      throw new UsageError('--init goes with --listing (a registry reference names one build)');
    if (values.listing !== undefined && values.username !== undefined)
      throw new UsageError('--username is for registries; a listing is read as it is served');
    return {
      reference: positionals[0]!,
      ...transferFlags(values),
      ...(values.listing !== undefined ? { listing: values.listing } : {}),
      ...(init !== undefined ? { init } : {}),
    };
  },
  run,
});
