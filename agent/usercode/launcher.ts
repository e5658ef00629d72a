// The launcher: how user code starts when something must happen as root between the agent's
// fork and the user's program. It may join a cgroup (node-pty cannot hand a shell a pipe to
// wait on, so a shell joins its cgroup itself before anything can fork) and, under per-run
// isolation, make private mounts in a mount namespace of its own (unshare): a fresh tmpfs on
// /tmp, /var/tmp and /dev/shm and a /proc with hidepid=2 (other uids' processes are
// invisible). Then it drops to the user's uid and gid (setpriv) and starts the program with
// env -i and exactly the environment the agent built. The root part never sees the request's
// environment (a variable like LD_PRELOAD must not reach a root process): it runs with
// ROOT_ENV, and the user's variables travel as argv to env, after setpriv. The script is
// constant; every value is a positional argument.
import { SYSTEM_PATH } from './env.js';

export const UNSHARE = '/usr/bin/unshare';
export const SETPRIV = '/usr/bin/setpriv';
const ENV = '/usr/bin/env';

/** Exit status of the launcher when its root part failed (the reason is on stderr). */
export const LAUNCH_FAILED = 124;

/** Where every per-run tenant gets a fresh tmpfs of its own. */
export const PRIVATE_MOUNTS = ['/tmp', '/var/tmp', '/dev/shm'] as const;

const fail = (what: string) => `{ echo "runbox: ${what}" >&2; exit ${LAUNCH_FAILED}; }`;

// $1 cgroup.procs to join or '', $2 private|shared, $3 uid, $4 gid, $5 setpriv's groups flag.
const SCRIPT = [
  'procs=$1 mounts=$2 u=$3 g=$4 groups=$5; shift 5',
  `if [ -n "$procs" ]; then echo $$ > "$procs" || ${fail('cannot join the cgroup')}; fi`,
  // The agent's -1000 would be inherited by everything the user starts: the OOM killer must pick user code.
  'echo 0 > /proc/self/oom_score_adj 2>/dev/null',
  'if [ "$mounts" = private ]; then',
  `  for d in ${PRIVATE_MOUNTS.join(' ')}; do`,
  '    [ -d "$d" ] || continue',
  `    mount -t tmpfs -o mode=1777,nosuid,nodev runbox-tmp "$d" || ${fail('cannot mount a private $d')}`,
  '  done',
  `  mount -t proc -o hidepid=2,nosuid,nodev,noexec proc /proc || ${fail('cannot mount a private /proc')}`,
  'fi',
  `exec ${SETPRIV} --reuid="$u" --regid="$g" "$groups" -- "$@"`,
].join('\n');

/** The only environment the root part of the launcher has. */
export const ROOT_ENV: Readonly<Record<string, string>> = { PATH: SYSTEM_PATH, LANG: 'C.UTF-8' };

export interface Launch {
  uid: number;
  gid: number;
  /** clear: no supplementary groups (runs, per-run tenants); init: the user's own (shared-mode shells). */
  groups: 'clear' | 'init';
  /** Private mounts in a new mount namespace (per-run isolation). */
  privateMounts: boolean;
  /** A cgroup directory to join before anything else happens. */
  cgroup?: string;
  env: Record<string, string>;
}

/** argv that starts `argv` as `launch` says; spawn it as root with ROOT_ENV. */
export function launcherArgv(launch: Launch, argv: readonly string[]): string[] {
  const assignments = Object.entries(launch.env).map(([key, value]) => `${key}=${value}`);
  const namespace = launch.privateMounts ? [UNSHARE, '--mount', '--propagation', 'private', '--'] : [];
  return [
    ...namespace,
    '/bin/sh',
    '-c',
    SCRIPT,
    'runbox-launcher',
    launch.cgroup ? `${launch.cgroup}/cgroup.procs` : '',
    launch.privateMounts ? 'private' : 'shared',
    String(launch.uid),
    String(launch.gid),
    launch.groups === 'clear' ? '--clear-groups' : '--init-groups',
    // `--` ends env's options: a variable name starting with "-" is still an assignment.
    ENV,
    '-i',
    '--',
    ...assignments,
    ...argv,
  ];
}
