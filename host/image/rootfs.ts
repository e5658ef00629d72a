// Builds the image's root directory tree: mmdebstrap (Debian bookworm, minbase) then the runbox
// customization (user, agent, services, network, hostname, fstab, spec files, warm-up commands).
import { cp, mkdir, readdir, writeFile, chmod, chown, symlink, rm, lstat, lutimes } from 'node:fs/promises';
import type { WriteStream } from 'node:fs';
import { join, dirname } from 'node:path';
import { runCommand } from '../local/command.js';
import type { InitSystem, PathFilter, ResolvedSpec } from './spec.js';
import { initDir } from './paths.js';

export const RUNBOX_UID = 1000;
const MIRROR = 'http://deb.debian.org/debian';
const SECURITY_MIRROR = 'http://deb.debian.org/debian-security';

/** Packages every image carries besides the spec's own. */
export function basePackages(init: InitSystem): string[] {
  const initPkgs = init === 'systemd' ? ['systemd', 'systemd-sysv'] : ['openrc'];
  return [...initPkgs, 'nodejs', 'socat', 'iproute2', 'ca-certificates'];
}

// Units that only slow a one-purpose microVM's boot down (or fail without hardware/dbus).
const SYSTEMD_MASKS = [
  // No udev in the image, so dev-ttyS0.device never appears and serial-getty would only wait 90 s; root has
  // no password anyway. Kernel and service output still go to the serial console.
  'getty@.service',
  'autovt@.service',
  'console-getty.service',
  'serial-getty@.service',
  'getty-static.service',
  'systemd-modules-load.service',
  'apt-daily.timer',
  'apt-daily-upgrade.timer',
  'apt-daily.service',
  'apt-daily-upgrade.service',
  'dpkg-db-backup.timer',
  'dpkg-db-backup.service',
  'e2scrub_all.timer',
  'e2scrub_reap.service',
  'fstrim.timer',
  'systemd-tmpfiles-clean.timer',
  'man-db.timer',
  'systemd-logind.service',
  'systemd-timesyncd.service',
  'systemd-networkd-wait-online.service',
  'systemd-update-utmp.service',
  'systemd-update-utmp-runlevel.service',
  'systemd-firstboot.service',
  'systemd-machine-id-commit.service',
  'systemd-pstore.service',
  'systemd-hwdb-update.service',
  'systemd-journal-catalog-update.service',
  'ldconfig.service',
  'modprobe@.service',
  'sys-kernel-debug.mount',
  'sys-kernel-tracing.mount',
  'sys-fs-fuse-connections.mount',
  'dev-hugepages.mount',
  'dev-mqueue.mount',
  'systemd-binfmt.service',
  'proc-sys-fs-binfmt_misc.automount',
  'systemd-ask-password-console.path',
  'systemd-ask-password-wall.path',
  'cryptsetup.target',
  'remote-fs.target',
];

export interface RootfsOptions {
  spec: ResolvedSpec;
  init: InitSystem;
  agentDir: string;
  /** Target directory (must not exist or be empty). */
  root: string;
  epoch: number;
  log: WriteStream;
  /** Short progress lines (mmdebstrap's own "I:" lines, warm-up commands). */
  onInfo: (line: string) => void;
}

/**
 * Paths dpkg never unpacks in any image (a spec can re-include with `includePaths`). dpkg matches with
 * fnmatch without FNM_PATHNAME (a `*` crosses `/`) and the last matching filter wins.
 */
export const DEFAULT_PATH_FILTERS: PathFilter[] = [
  // Docs, man pages, translations: nobody reads them in a sandbox. Copyright files stay (licence terms).
  { action: 'exclude', glob: '/usr/share/doc/*' },
  { action: 'include', glob: '/usr/share/doc/*/copyright' },
  ...['man', 'locale', 'info', 'lintian', 'linda', 'bug'].map((d): PathFilter => ({ action: 'exclude', glob: `/usr/share/${d}/*` })),
  // Leap-second ("right/") copies of every zone: no libc or language runtime uses them by default.
  { action: 'exclude', glob: '/usr/share/zoneinfo/right/*' },
  // glibc's iconv modules (8 MB, mostly CJK/EBCDIC tables) serve only C programs calling iconv(3); Python,
  // Node and Go carry their own codecs. UTF-8/16/32, UCS and ASCII are built into libc; keep the common
  // single-byte Western and Cyrillic ones.
  { action: 'exclude', glob: '/usr/lib/x86_64-linux-gnu/gconv/*.so' },
  ...['UTF-*', 'UNICODE', 'ISO8859-*', 'CP125?', 'KOI8-*', 'IBM437', 'IBM850'].map((m): PathFilter => ({
    action: 'include',
    glob: `/usr/lib/x86_64-linux-gnu/gconv/${m}.so`,
  })),
];

function buildEnv(epoch: number): NodeJS.ProcessEnv {
  return {
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    LC_ALL: 'C.UTF-8',
    SOURCE_DATE_EPOCH: String(epoch),
    DEBIAN_FRONTEND: 'noninteractive',
  };
}

/** mmdebstrap: bookworm + updates + security (+ backports), no recommends, dpkg path filters (defaults + spec). */
export async function debootstrap(o: RootfsOptions): Promise<void> {
  const sources = [`deb ${MIRROR} bookworm main`, `deb ${MIRROR} bookworm-updates main`, `deb ${SECURITY_MIRROR} bookworm-security main`];
  // Backports get apt's default priority 100: only packages that exist nowhere else (golang-1.23) come from there.
  if (o.spec.backports) sources.push(`deb ${MIRROR} bookworm-backports main`);
  const include = [...basePackages(o.init), ...o.spec.packages];
  const argv = [
    'mmdebstrap',
    '--mode=root',
    '--variant=minbase',
    '--format=directory',
    '--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr',
    '--aptopt=APT::Install-Recommends "false"',
    '--aptopt=APT::Install-Suggests "false"',
    '--aptopt=Acquire::Languages "none"',
    ...[...DEFAULT_PATH_FILTERS, ...o.spec.pathFilters].map((f) => `--dpkgopt=path-${f.action}=${f.glob}`),
    `--include=${include.join(',')}`,
    'bookworm',
    o.root,
    ...sources,
  ];
  await runCommand(argv, {
    env: buildEnv(o.epoch),
    log: o.log,
    onLine: (l) => {
      if (/^[IEW]: /.test(l)) o.onInfo(l);
    },
  });
}

async function chroot(o: RootfsOptions, argv: string[]): Promise<string> {
  return runCommand(['chroot', o.root, ...argv], { env: buildEnv(o.epoch), log: o.log, captureStdout: true });
}

async function writeGuestFile(root: string, path: string, content: string | Buffer, mode: number, uid = 0): Promise<void> {
  const dst = join(root, path);
  await mkdir(dirname(dst), { recursive: true });
  await writeFile(dst, content);
  await chmod(dst, mode);
  await chown(dst, uid, uid);
}

export function envFile(env: Record<string, string>): string {
  // Values are validated single-line strings; single-quote them so the file is safe to source.
  return (
    Object.entries(env)
      .map(([k, v]) => `${k}='${v.replace(/'/g, `'\\''`)}'`)
      .join('\n') + (Object.keys(env).length ? '\n' : '')
  );
}

/** Everything runbox adds on top of the Debian tree. */
export async function customize(o: RootfsOptions): Promise<void> {
  const { root, spec } = o;
  const g = (p: string) => join(root, p);

  // Unprivileged user for user code; fixed uid/gid so images and the agent agree.
  await chroot(o, ['groupadd', '--gid', String(RUNBOX_UID), 'runbox']);
  await chroot(o, [
    'useradd',
    '--uid',
    String(RUNBOX_UID),
    '--gid',
    'runbox',
    '--create-home',
    '--home-dir',
    '/home/runbox',
    '--shell',
    '/bin/bash',
    'runbox',
  ]);

  // Agent bundle: whatever files dist/agent holds (runbox-agent.js, pty.node, ...).
  await mkdir(g('/opt/runbox'), { recursive: true });
  for (const f of await readdir(o.agentDir)) await cp(join(o.agentDir, f), g(`/opt/runbox/${f}`), { recursive: true });
  for (const f of ['start-agent', 'net-setup']) {
    await cp(join(initDir(), 'runbox', f), g(`/opt/runbox/${f}`));
    await chmod(g(`/opt/runbox/${f}`), 0o755);
  }
  await runCommand(['chown', '-R', 'root:root', g('/opt/runbox')], { log: o.log });

  // State directories; run dirs are made by the agent. The cache directory is root's: the agent
  // chowns its children, which must never be links the user planted. Only the Go build cache and
  // GOPATH inside it are the user's (the compiler runs as runbox and warm-up fills them).
  for (const d of ['/etc/runbox', '/var/lib/runbox', '/var/lib/runbox/runs']) await mkdir(g(d), { recursive: true, mode: 0o755 });
  await mkdir(g('/var/cache/runbox'), { recursive: true });
  await chown(g('/var/cache/runbox'), 0, 0);
  await chmod(g('/var/cache/runbox'), 0o755);
  for (const d of ['/var/cache/runbox/go-build', '/var/cache/runbox/gopath', '/var/cache/runbox/warm']) {
    await mkdir(g(d), { recursive: true });
    await chown(g(d), RUNBOX_UID, RUNBOX_UID);
    await chmod(g(d), d.endsWith('warm') ? 0o755 : 0o700);
  }
  await writeGuestFile(root, '/etc/runbox/env', envFile(spec.env), 0o644);

  // Identity and mounts. No fsck at boot (pass 0): the image is checked at build time and boot speed matters.
  await writeGuestFile(root, '/etc/hostname', 'runbox\n', 0o644);
  await writeGuestFile(root, '/etc/hosts', '127.0.0.1\tlocalhost\n127.0.1.1\trunbox\n::1\tlocalhost ip6-localhost ip6-loopback\n', 0o644);
  await writeGuestFile(
    root,
    '/etc/fstab',
    '# <device> <mount> <type> <options> <dump> <pass>\n/dev/vda\t/\text4\trw,noatime,errors=remount-ro\t0\t0\n',
    0o644,
  );

  if (o.init === 'systemd') await setupSystemd(o);
  else await setupOpenrc(o);

  for (const f of spec.files) {
    const uid = f.owner === 'runbox' ? RUNBOX_UID : 0;
    await writeGuestFile(root, f.path, f.content, parseInt(f.mode ?? '0644', 8), uid);
    // Parent directories created for a runbox-owned file belong to runbox too when under its cache/home.
    if (uid !== 0) await chownParents(root, f.path, uid);
  }
  for (const w of spec.warmup) await warmup(o, w.argv, w.cwd, { ...spec.env, ...w.env });

  await removeApt(o);
  await removeBuildLeftovers(root);
}

/** Build-time leftovers that would differ between two builds, and dpkg/debconf's backup copies. */
const BUILD_LEFTOVERS = [
  '/var/cache/ldconfig/aux-cache',
  '/etc/passwd-',
  '/etc/group-',
  '/etc/shadow-',
  '/etc/gshadow-',
  '/etc/subuid-',
  '/etc/subgid-',
  '/var/lib/dpkg/status-old',
  '/var/lib/dpkg/diversions-old',
  '/var/cache/debconf/config.dat-old',
  '/var/cache/debconf/templates.dat-old',
  '/var/cache/debconf/passwords.dat-old',
];

async function removeBuildLeftovers(root: string): Promise<void> {
  for (const f of BUILD_LEFTOVERS) await rm(join(root, f), { force: true });
}

// apt is only needed to build the tree: in the VM user code runs unprivileged (apt-get install cannot work)
// and the package lists are empty. dpkg stays (the package database describes the image).
const APT_PACKAGES = ['apt', 'libapt-pkg6.0', 'debian-archive-keyring', 'gpgv'];

/** Purge apt and its own dependencies, unless a package the spec asked for depends on them. */
async function removeApt(o: RootfsOptions): Promise<void> {
  const installed = new Set(
    (await chroot(o, ['dpkg-query', '-W', '-f', '${Package}\t${db:Status-Abbrev}\n']))
      .split('\n')
      .map((l) => l.split('\t'))
      .filter((f) => f[1]?.startsWith('ii'))
      .map((f) => f[0]!),
  );
  const targets = APT_PACKAGES.filter((p) => installed.has(p));
  if (targets.length === 0) return;
  try {
    await chroot(o, ['dpkg', '--simulate', '--purge', ...targets]);
  } catch {
    o.onInfo(`keeping apt: an installed package depends on one of ${targets.join(', ')} (see build.log)`);
    return;
  }
  await chroot(o, ['dpkg', '--purge', ...targets]);
  // dpkg logs wall-clock times; mmdebstrap leaves no dpkg.log either (reproducible builds).
  await rm(join(o.root, '/var/log/dpkg.log'), { force: true });
  // Directories apt's packages do not own (mmdebstrap's sources.list, empty lists and caches).
  for (const d of ['/etc/apt', '/var/lib/apt', '/var/cache/apt', '/var/log/apt'])
    await rm(join(o.root, d), { recursive: true, force: true });
}

async function chownParents(root: string, path: string, uid: number): Promise<void> {
  for (let d = dirname(path); d.startsWith('/var/cache/runbox/') || d.startsWith('/home/runbox/'); d = dirname(d)) {
    await chown(join(root, d), uid, uid);
  }
}

async function setupSystemd(o: RootfsOptions): Promise<void> {
  const units = ['runbox-agent.service', 'runbox-vsock.service', 'runbox-net.service'];
  for (const u of units) {
    await cp(join(initDir(), 'systemd', u), join(o.root, '/etc/systemd/system', u));
    await chmod(join(o.root, '/etc/systemd/system', u), 0o644);
  }
  await runCommand(['systemctl', `--root=${o.root}`, 'enable', ...units], { log: o.log });
  // Masking a unit that is not installed is harmless, so one list serves every image.
  await runCommand(['systemctl', `--root=${o.root}`, 'mask', ...SYSTEMD_MASKS], { log: o.log });
  await runCommand(['systemctl', `--root=${o.root}`, 'set-default', 'multi-user.target'], { log: o.log });
  // Keep the journal in memory: nothing reads it after the VM is gone and it saves disk writes.
  await writeGuestFile(o.root, '/etc/systemd/journald.conf.d/runbox.conf', '[Journal]\nStorage=volatile\nRuntimeMaxUse=8M\n', 0o644);
}

async function setupOpenrc(o: RootfsOptions): Promise<void> {
  const services = ['runbox-agent', 'runbox-vsock', 'runbox-net'];
  await mkdir(join(o.root, '/etc/runlevels/default'), { recursive: true });
  for (const s of services) {
    await cp(join(initDir(), 'openrc', s), join(o.root, '/etc/init.d', s));
    await chmod(join(o.root, '/etc/init.d', s), 0o755);
    await symlink(`/etc/init.d/${s}`, join(o.root, '/etc/runlevels/default', s));
  }
  // hwclock.sh wants initscripts' mountdevsubfs and a VM's clock comes from the host anyway.
  await rm(join(o.root, '/etc/runlevels/sysinit/hwclock.sh'), { force: true });
  // openrc-init is PID 1 (no sysvinit); the initramfs execs /sbin/init.
  await rm(join(o.root, '/sbin/init'), { force: true });
  await symlink('/sbin/openrc-init', join(o.root, '/usr/sbin/init'));
  // Unified cgroup v2 hierarchy so the agent can create per-run subtrees like under systemd.
  await runCommand(
    [
      'sed',
      '-i',
      '-e',
      's/^#\\?rc_cgroup_mode=.*/rc_cgroup_mode="unified"/',
      '-e',
      's/^#\\?rc_parallel=.*/rc_parallel="YES"/',
      '-e',
      's/^#\\?rc_logger=.*/rc_logger="NO"/',
      join(o.root, '/etc/rc.conf'),
    ],
    { log: o.log },
  );
}

/**
 * Run a spec warm-up command as the runbox user inside the tree. A private mount namespace gets /proc
 * and /dev for the command and drops them on exit; argv is passed as "$@" to a constant script.
 */
async function warmup(o: RootfsOptions, argv: string[], cwd: string | undefined, env: Record<string, string>): Promise<void> {
  o.onInfo(`warm-up: ${argv.join(' ')}`);
  const envArgs = Object.entries({
    HOME: '/home/runbox',
    USER: 'runbox',
    PATH: '/usr/local/bin:/usr/bin:/bin',
    ...env,
    SOURCE_DATE_EPOCH: String(o.epoch),
  }).map(([k, v]) => `${k}=${v}`);
  const script = [
    'set -eu',
    'root=$1; cwd=$2; shift 2',
    'mount -t proc proc "$root/proc"',
    'mount --rbind /dev "$root/dev"',
    'exec chroot "$root" /usr/bin/setpriv --reuid=runbox --regid=runbox --init-groups /usr/bin/env -i -C "$cwd" "$@"',
  ].join('\n');
  await runCommand(
    [
      'unshare',
      '--mount',
      '--propagation',
      'private',
      '--fork',
      '--',
      'sh',
      '-c',
      script,
      'warmup',
      o.root,
      cwd ?? '/home/runbox',
      ...envArgs,
      ...argv,
    ],
    {
      env: buildEnv(o.epoch),
      log: o.log,
    },
  );
}

/** Set every mtime/atime in the tree to the build epoch (mkfs.ext4 copies mtimes). */
export async function clampTimes(root: string, epoch: number): Promise<void> {
  const t = new Date(epoch * 1000);
  const walk = async (dir: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) await walk(p);
      await lutimes(p, t, t);
    }
  };
  await walk(root);
  await lutimes(root, t, t);
}

/** Used bytes (4 KiB blocks) and inode count of a tree: sizes the ext4 image. */
export async function treeUsage(root: string): Promise<{ bytes: number; inodes: number }> {
  let bytes = 0;
  let inodes = 1;
  const seen = new Set<string>();
  const walk = async (dir: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      const st = await lstat(p);
      const key = `${st.dev}:${st.ino}`;
      if (seen.has(key)) continue; // hard links count once
      seen.add(key);
      inodes++;
      bytes += Math.max(4096, Math.ceil(st.size / 4096) * 4096);
      if (e.isDirectory()) await walk(p);
    }
  };
  await walk(root);
  return { bytes, inodes };
}
