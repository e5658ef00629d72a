// runbox vs OpenSSH on loopback, both measured in this process against this machine:
//   - latency of a trivial command: runbox exec(['true']) vs `ssh host true` over a
//     multiplexed connection (ControlMaster: like the SDK's one long-lived channel) and
//     over a fresh connection each time;
//   - throughput of 256 MiB of stdout.
// Starts a private sshd on a free loopback port with throwaway keys, and a local agent.
// Prints figures and ratios; asserts nothing. Needs `npm run build` and openssh-server.
//   node bench/ssh-baseline.mjs [--runs N]
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync, chmodSync, readFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { Sandbox } from '../dist/host/index.js';
import { latency, startLocalAgent } from './lib.mjs';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '100' } } });
const runs = Number(values.runs);
const SSHD = '/usr/sbin/sshd';
if (!existsSync(SSHD)) {
  console.log('ssh baseline skipped: /usr/sbin/sshd is missing (apt-get install openssh-server)');
  process.exit(0);
}
if (process.getuid() !== 0 || spawnSync('getent', ['passwd', 'runbox']).status !== 0) {
  console.log('ssh baseline skipped: run as root with a runbox user (bash init/setup-host.sh): it starts a private sshd and an agent');
  process.exit(0);
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'runbox-ssh-bench-'));
chmodSync(dir, 0o755);
const cleanups = [];
const freePort = () =>
  new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });

function startSshd(port) {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', `${dir}/host_key`]);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', `${dir}/client_key`]);
  // sshd reads authorized_keys as the user logging in: world-readable in a 0755 directory.
  writeFileSync(`${dir}/authorized_keys`, readFileSync(`${dir}/client_key.pub`), { mode: 0o644 });
  writeFileSync(
    `${dir}/sshd_config`,
    [
      `ListenAddress 127.0.0.1:${port}`,
      `HostKey ${dir}/host_key`,
      `AuthorizedKeysFile ${dir}/authorized_keys`,
      `PidFile ${dir}/sshd.pid`,
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      // With UsePAM no, sshd refuses accounts whose password is locked, as runbox's is.
      'UsePAM yes',
      'StrictModes no',
      'MaxStartups 200',
      'MaxSessions 200',
    ].join('\n') + '\n',
  );
  // sshd refuses to start without its privilege-separation directory.
  execFileSync('mkdir', ['-p', '/run/sshd']);
  const child = spawn(SSHD, ['-D', '-e', '-f', `${dir}/sshd_config`], { stdio: ['ignore', 'ignore', 'pipe'] });
  cleanups.push(() => child.kill('SIGTERM'));
  return new Promise((resolve) => setTimeout(resolve, 500));
}

function sshArgs(port, multiplexed) {
  return [
    '-q',
    '-p',
    String(port),
    '-i',
    `${dir}/client_key`,
    '-o',
    'StrictHostKeyChecking=no',
    '-o',
    `UserKnownHostsFile=${dir}/known_hosts`,
    '-o',
    'BatchMode=yes',
    ...(multiplexed ? ['-o', 'ControlMaster=auto', '-o', `ControlPath=${dir}/mux`, '-o', 'ControlPersist=60'] : []),
    // The same unprivileged user runbox runs code as, so both sides start the same kind of process.
    'runbox@127.0.0.1',
  ];
}

function run(cmd, args, sink = false) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let bytes = 0;
    child.stdout.on('data', (chunk) => (bytes += chunk.length));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(bytes) : reject(new Error(`${cmd} exited ${code}`))));
  });
}

// ssh's fresh-connection case is slow: fewer runs, same warm-up rule.
const measure = (name, once, n = runs) => latency(name, once, { runs: n, warmup: Math.min(10, n) });
async function throughput(name, once) {
  const start = performance.now();
  const bytes = await once();
  const seconds = (performance.now() - start) / 1000;
  return { name, mibPerSecond: bytes / 2 ** 20 / seconds, bytes };
}

try {
  const port = await freePort();
  await startSshd(port);
  const agent = await startLocalAgent(['--default-output-bytes', String(300 << 20)]);
  cleanups.push(() => agent.stop());
  const sb = await Sandbox.connect(agent.target);
  await sb.waitReady({ timeoutMs: 10_000 });
  const FLOOD = 256 << 20;
  const lat = [
    await measure("runbox exec(['true'])", () => sb.exec(['true'])),
    await measure('ssh true (multiplexed)', () => run('ssh', [...sshArgs(port, true), 'true'])),
    await measure('ssh true (new connection)', () => run('ssh', [...sshArgs(port, false), 'true']), Math.min(runs, 30)),
  ];
  const thr = [
    await throughput(
      'runbox exec head -c 256M',
      async () => (await sb.exec(['head', '-c', String(FLOOD), '/dev/zero'])).run.stdoutTotalBytes,
    ),
    await throughput('ssh head -c 256M (multiplexed)', () =>
      run('ssh', [...sshArgs(port, true), 'head', '-c', String(FLOOD), '/dev/zero']),
    ),
  ];
  await sb.close();
  const base = lat[1];
  console.log(`\nlatency, ${runs} runs each (ratio = p50 / multiplexed ssh p50):`);
  for (const r of lat)
    console.log(
      `  ${r.name.padEnd(28)} p50 ${r.p50.toFixed(2).padStart(7)} ms  p95 ${r.p95.toFixed(2).padStart(7)} ms  ratio ${(r.p50 / base.p50).toFixed(2)}x`,
    );
  console.log('\nthroughput of stdout (ratio = runbox / ssh):');
  for (const r of thr) console.log(`  ${r.name.padEnd(32)} ${r.mibPerSecond.toFixed(0).padStart(6)} MiB/s`);
  console.log(`  ratio ${(thr[0].mibPerSecond / thr[1].mibPerSecond).toFixed(2)}x`);
} finally {
  for (const cleanup of cleanups.reverse()) cleanup();
  // End the ControlPersist master; it would otherwise linger for its 60 s.
  try {
    execFileSync('ssh', ['-O', 'exit', '-o', `ControlPath=${dir}/mux`, 'x'], { stdio: 'ignore' });
  } catch {
    /* no master was started */
  }
  rmSync(dir, { recursive: true, force: true });
}
