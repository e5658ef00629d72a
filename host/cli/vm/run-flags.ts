// The help lines of `vm run`'s flags: shown by `runbox vm run --help` and in `runbox vm --help`.
// Apart from run.ts so the overview does not load the launcher.
export const RUN_FLAGS_HELP = `      --net M          tap (default as root): a network namespace runbox-<id> with a TAP device,
                       guest 172.16.0.2, reached through a Unix socket; user: QEMU user-mode
                       network, guest reachable on a free 127.0.0.1 port
      --memory MiB     guest memory (default 1024)
      --cpus N         vCPUs (default 2)
      --token-file F   require the token in F (passed to the guest as a raw disk)
      --init I         which build of the image: systemd (default) or openrc
      --accel A        tcg (default; env RUNBOX_ACCEL) or kvm
      --machine M      microvm (default) or q35
      --isolation I    shared (default): all user code is one user; per-run: a uid, /tmp
                       and /proc of its own per run and shell (docs/isolation.md)
      --wait-ms N      give up if the agent has not answered after N ms (default 180000)
      --detach         return once ready; stop later with: runbox vm stop <id>
      --json           print the VM's state as JSON
`;
