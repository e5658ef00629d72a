// The isolate wrapper: how user code starts under per-run isolation. It runs as root for an
// instant, in a mount namespace of its own (unshare), mounts a fresh tmpfs on /tmp, /var/tmp
// and /dev/shm and a /proc with hidepid=2 (other uids' processes are invisible), then drops
// to the run's uid and gid with no supplementary groups (setpriv) and starts the user's
// environment with env -i. The root part never sees the request's environment (a variable
// like LD_PRELOAD must not reach a root process): it gets ROOT_ENV, and the user's variables
// travel as argv to env, after setpriv. The script is constant; values are positional args.
import { SYSTEM_PATH } from './env.js';

export const UNSHARE = '/usr/bin/unshare';
export const SETPRIV = '/usr/bin/setpriv';
const ENV = '/usr/bin/env';

/** Exit status of the wrapper when the private mounts could not be made. */
export const ISOLATE_FAILED = 124;

/** Where every tenant gets a fresh tmpfs of its own. */
export const PRIVATE_MOUNTS = ['/tmp', '/var/tmp', '/dev/shm'] as const;

const ISOLATE = [
  `for d in ${PRIVATE_MOUNTS.join(' ')}; do`,
  '  [ -d "$d" ] || continue',
  `  mount -t tmpfs -o mode=1777,nosuid,nodev runbox-tmp "$d" || { echo "runbox: cannot mount a private $d" >&2; exit ${ISOLATE_FAILED}; }`,
  'done',
  `mount -t proc -o hidepid=2,nosuid,nodev,noexec proc /proc || { echo "runbox: cannot mount a private /proc" >&2; exit ${ISOLATE_FAILED}; }`,
  'u=$1 g=$2; shift 2',
  `exec ${SETPRIV} --reuid="$u" --regid="$g" --clear-groups -- "$@"`,
].join('\n');

/** The only environment the root part of the wrapper has. */
export const ROOT_ENV: Readonly<Record<string, string>> = { PATH: SYSTEM_PATH, LANG: 'C.UTF-8' };

/** argv that starts `argv` as uid/gid in private mounts with exactly `env`. */
export function isolateArgv(uid: number, gid: number, env: Record<string, string>, argv: readonly string[]): string[] {
  const assignments = Object.entries(env).map(([key, value]) => `${key}=${value}`);
  // `--` ends env's options: a variable name starting with "-" is still an assignment.
  return [
    UNSHARE,
    '--mount',
    '--propagation',
    'private',
    '--',
    '/bin/sh',
    '-c',
    ISOLATE,
    'runbox-isolate',
    String(uid),
    String(gid),
    ENV,
    '-i',
    '--',
    ...assignments,
    ...argv,
  ];
}
