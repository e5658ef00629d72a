// The gate: a constant /bin/sh script that user code starts through when something must happen
// between the uid switch and the real exec. libuv and node-pty chdir() before they drop
// privileges, so a client-given cwd entered there is entered as root; the gate enters it
// ($1) with the user's own permissions. With a cgroup it also waits on fd 3 ($2 = wait) until
// the agent has put its pid in cgroup.procs, so nothing forks outside the cgroup. User values
// only ever travel as positional arguments, never inside the script.
const GATE =
  'if [ -n "$1" ]; then cd -- "$1" || exit 126; fi; if [ "$2" = wait ]; then read -r _ <&3 || exit 125; exec 3<&-; fi; shift 2; exec "$@"';

/** Exit status of the gate when the user may not enter the cwd (as a shell's `cd` would fail). */
export const GATE_CWD_FAILED = 126;

/** argv that runs `argv` through the gate: '' for `cwd` stays where the process started. */
export function gateArgv(cwd: string, waitOnFd3: boolean, argv: readonly string[]): string[] {
  return ['/bin/sh', '-c', GATE, 'runbox-gate', cwd, waitOnFd3 ? 'wait' : 'go', ...argv];
}
