// runbox cp: copies one file into or out of the sandbox. A sandbox path is written
// sandbox:/path; `-` is stdin or stdout. Transfers stream, so file size does not matter.
import { createReadStream, createWriteStream, statSync } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable, Writable } from 'node:stream';
import { TARGET_OPTIONS, TARGET_USAGE, UsageError, connect, parse, runVerb } from './common.js';
import type { CliIo } from './io.js';
import type { Sandbox } from '../sandbox.js';

const USAGE = `Usage: runbox cp --target T [options] SRC DST

Copies a file between this machine and the sandbox, as the sandbox's user. Exactly one of
SRC and DST is a sandbox path, written sandbox:/absolute/path. A local path of - means
stdin (as SRC) or stdout (as DST). When DST is an existing directory, the file keeps its
name inside it.

Examples:
  runbox cp ./data.csv sandbox:/home/runbox/data.csv
  runbox cp sandbox:/home/runbox/out.png ./
  tar c dir | runbox cp - sandbox:/tmp/dir.tar

${TARGET_USAGE}
      --mode OCTAL     permission bits of a new sandbox file (default: the local file's, or 644)
  -p, --parents        create missing parent directories in the sandbox
  -n, --no-clobber     fail instead of replacing an existing sandbox file
`;

const SANDBOX = 'sandbox:';

function localIsDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

type CpValues = { parents?: boolean; 'no-clobber'?: boolean };

async function upload(sandbox: Sandbox, src: string, dst: string, mode: number | undefined, values: CpValues, io: CliIo): Promise<void> {
  let remote = dst.slice(SANDBOX.length);
  const fromStdin = src === '-';
  if (!fromStdin && localIsDirectory(src))
    throw new UsageError(`${src} is a directory: runbox cp copies single files (use tar: tar c DIR | runbox cp - sandbox:/tmp/x.tar)`);
  const into =
    remote.endsWith('/') ||
    (await sandbox.files.stat(remote).then(
      (i) => i.type === 'directory',
      () => false,
    ));
  if (into) {
    if (fromStdin) throw new UsageError(`${dst} is a directory: name the file to write from stdin`);
    remote = path.posix.join(remote, path.basename(src));
  }
  const source: Readable = fromStdin ? io.stdin : createReadStream(src);
  const localMode = fromStdin ? undefined : statSync(src).mode & 0o777;
  await sandbox.files.write(remote, source, {
    ...((mode ?? localMode) !== undefined ? { mode: mode ?? localMode } : {}),
    createParents: values.parents ?? false,
    noOverwrite: values['no-clobber'] ?? false,
  });
}

async function download(sandbox: Sandbox, src: string, dst: string, mode: number | undefined, io: CliIo): Promise<void> {
  const remote = src.slice(SANDBOX.length);
  let local = dst;
  if (local !== '-' && (local.endsWith('/') || localIsDirectory(local))) local = path.join(local, path.posix.basename(remote));
  const stream = sandbox.files.readStream(remote);
  // An early failure is reported through `info`; pipeline() listens for later ones.
  stream.on('error', () => {});
  // Open the local file only once the sandbox file is known to be readable.
  await stream.info;
  const sink: Writable = local === '-' ? io.stdout : createWriteStream(local, mode === undefined ? {} : { mode });
  await pipeline(stream, sink, { end: local !== '-' });
}

export function main(argv: string[], io: CliIo): Promise<number> {
  return runVerb(USAGE, io, async () => {
    const { values, positionals } = parse(argv, {
      ...TARGET_OPTIONS,
      mode: { type: 'string' },
      parents: { type: 'boolean', short: 'p' },
      'no-clobber': { type: 'boolean', short: 'n' },
    });
    if (values.help) return (io.stdout.write(USAGE), 0);
    if (positionals.length !== 2) throw new UsageError(`expected SRC and DST, got ${positionals.length} argument(s)`);
    const [src, dst] = positionals as [string, string];
    const isUpload = dst.startsWith(SANDBOX);
    if (isUpload === src.startsWith(SANDBOX)) {
      throw new UsageError(`exactly one of SRC and DST must be a sandbox path (sandbox:/path): got ${src} ${dst}`);
    }
    let mode: number | undefined;
    if (values.mode !== undefined) {
      if (!/^[0-7]{1,4}$/.test(values.mode)) throw new UsageError(`--mode ${values.mode}: expected octal permission bits such as 644`);
      mode = parseInt(values.mode, 8);
    }
    const sandbox = await connect(values, io);
    try {
      if (isUpload) await upload(sandbox, src, dst, mode, values, io);
      else await download(sandbox, src, dst, mode, io);
      return 0;
    } finally {
      await sandbox.close();
    }
  });
}
