// Which repositories of a registry received which blob from this host, so a push to another
// repository of the same registry can ask for a cross-repository mount instead of uploading
// the blob again (the kernel every image shares). Kept beside the blob cache, in
// $RUNBOX_HOME/blobs/repos.json: { "<registry>": { "<digest>": ["<repo>", ...] } }. It is a
// hint: a repository that lost the blob makes the registry start a normal upload, and two
// pushes at once may each keep only their own additions (the file is replaced by rename).
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { blobCacheDir } from './blobs.js';

type RepoRecord = { [registry: string]: { [digest: string]: string[] } };

/** Repositories one registry keeps per blob; at most this many are remembered per blob. */
const MAX_REPOS_PER_BLOB = 8;

function recordFile(env: NodeJS.ProcessEnv): string {
  return join(blobCacheDir(env), 'repos.json');
}

async function readRecord(env: NodeJS.ProcessEnv): Promise<RepoRecord> {
  try {
    const parsed = JSON.parse(await readFile(recordFile(env), 'utf8')) as unknown;
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as RepoRecord) : {};
  } catch {
    return {}; // none yet, or unreadable: it is only a hint
  }
}

/** Repositories of `registry` that received `digest` from this host, most recent first, `except` left out. */
export async function reposWithBlob(registry: string, digest: string, except: string, env = process.env): Promise<string[]> {
  const repos = (await readRecord(env))[registry]?.[digest];
  return Array.isArray(repos) ? repos.filter((r) => typeof r === 'string' && r !== except) : [];
}

/** Notes that `repo` of `registry` now has each of `digests`. */
export async function rememberBlobs(registry: string, repo: string, digests: string[], env = process.env): Promise<void> {
  const record = await readRecord(env);
  const blobs = (record[registry] ??= {});
  for (const digest of digests) blobs[digest] = [repo, ...(blobs[digest] ?? []).filter((r) => r !== repo)].slice(0, MAX_REPOS_PER_BLOB);
  const file = recordFile(env);
  await mkdir(blobCacheDir(env), { recursive: true, mode: 0o700 });
  const temp = `${file}.${process.pid}.tmp`;
  await writeFile(temp, JSON.stringify(record, null, 2) + '\n', { mode: 0o600 });
  await rename(temp, file);
}
