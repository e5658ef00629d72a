// runbox vs OpenSSH on loopback, both measured in this process against this machine, both
// running code as the same unprivileged `runbox` user:
//   - latency of a trivial command: runbox exec(['true']) vs `ssh host true` over a
//     multiplexed connection (ControlMaster: like the SDK's one long-lived channel), and over a
//     fresh connection each time;
//   - throughput of 256 MiB of stdout, with the peak RSS of the agent and of this process (the
//     SDK) during each run: runbox keeping the result, runbox only streaming it (onStdout,
//     keepOutput: false), and ssh multiplexed (bytes counted);
//   - the CLI: `runbox run --target T bash f` (a new process each time) vs ssh multiplexed
//     running the same file, and `node -e 0` (Node's own start, the floor of any Node CLI).
// Interleaved: load that comes and goes hits both sides alike. Starts a private sshd on a free
// loopback port with throwaway keys, and a local agent. Prints figures and ratios; asserts
// nothing. Needs `npm run build`, root and openssh-server.
//   node bench/ssh-baseline.mjs [--runs N] [--floods N] [--cli-runs N]
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync, chmodSync, readFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { Sandbox } from '../dist/host/index.js';
import { collectGarbage, interleaved, machine, peakRssMiB, printLatency, repo, resetPeak, rssMiB, startLocalAgent } from './lib.mjs';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '200' },
    floods: { type: 'string', default: '3' },
    'cli-runs': { type: 'string', default: '20' },
  },
});
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

/** Runs a command; resolves with the bytes it wrote to stdout: counted, or kept and joined when `keep`. */
function run(cmd, args, input, keep = false) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'inherit'] });
    let bytes = 0;
    const chunks = [];
    child.stdout.on('data', (chunk) => (keep ? chunks.push(chunk) : (bytes += chunk.length)));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(keep ? Buffer.concat(chunks).length : bytes) : reject(new Error(`${cmd} exited ${code}`)),
    );
    if (input !== undefined) child.stdin.end(input);
  });
}

const FLOOD = 256 << 20;
const MiB = 2 ** 20;

/** One 256 MiB flood: MiB/s and the peak RSS of the agent and of this process while it ran. */
async function flood(name, agentPid, once) {
  // The previous flood's 256 MiB is garbage, but V8 frees array buffers behind a collection.
  collectGarbage();
  await new Promise((resolve) => setTimeout(resolve, 200));
  collectGarbage();
  resetPeak(agentPid);
  resetPeak(process.pid);
  const before = { agent: rssMiB(agentPid), sdk: rssMiB(process.pid) };
  const start = performance.now();
  const bytes = await once();
  const seconds = (performance.now() - start) / 1000;
  if (bytes !== FLOOD) throw new Error(`${name}: ${bytes} bytes, expected ${FLOOD}`);
  const agentPeak = peakRssMiB(agentPid);
  const sdkPeak = peakRssMiB(process.pid);
  return {
    name,
    mibPerSecond: bytes / MiB / seconds,
    agentPeak,
    sdkPeak,
    agentGrowth: agentPeak - before.agent,
    sdkGrowth: sdkPeak - before.sdk,
  };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function throughputs(sb, agentPid, port) {
  const head = ['head', '-c', String(FLOOD), '/dev/zero'];
  const kinds = {
    'runbox exec, result kept': async () => {
      const r = await sb.exec(head);
      return r.stdoutBytes.length;
    },
    'runbox exec, onStdout only': async () => {
      let bytes = 0;
      await sb.exec(head, { keepOutput: false, decodeOutput: false, onStdout: (_text, chunk) => void (bytes += chunk.bytes.length) });
      return bytes;
    },
    'ssh (multiplexed), counted': () => run('ssh', [...sshArgs(port, true), ...head]),
    // What keeping ssh's output costs a Node program: its chunks, joined.
    'ssh (multiplexed), kept': () => run('ssh', [...sshArgs(port, true), ...head], undefined, true),
  };
  const rounds = Object.keys(kinds).map(() => []);
  for (let i = 0; i < Number(values.floods); i++) {
    for (const [j, [name, once]] of Object.entries(kinds).entries()) rounds[j].push(await flood(name, agentPid, once));
  }
  return rounds.map((rs) => ({
    name: rs[0].name,
    mibPerSecond: median(rs.map((r) => r.mibPerSecond)),
    spread: [Math.min(...rs.map((r) => r.mibPerSecond)), Math.max(...rs.map((r) => r.mibPerSecond))],
    agentPeak: Math.max(...rs.map((r) => r.agentPeak)),
    sdkPeak: Math.max(...rs.map((r) => r.sdkPeak)),
    agentGrowth: Math.max(...rs.map((r) => r.agentGrowth)),
    sdkGrowth: Math.max(...rs.map((r) => r.sdkGrowth)),
  }));
}

/** `runbox run --target T bash f` as a new process each time, against ssh and node -e 0. */
async function cliLatency(target, port) {
  const file = path.join(dir, 'f.sh');
  writeFileSync(file, 'true\n', { mode: 0o644 });
  const cli = path.join(repo, 'dist/host/cli.js');
  // One untimed start writes the CLI's code cache, as any first use does.
  await run(process.execPath, [cli, 'run', '--target', target, 'bash', file]);
  const ops = {
    'node -e 0': () => run(process.execPath, ['-e', '0']),
    'runbox run --target T bash f': () => run(process.execPath, [cli, 'run', '--target', target, 'bash', file]),
    'ssh (multiplexed) bash -s < f': () => run('ssh', [...sshArgs(port, true), 'bash', '-s'], readFileSync(file)),
  };
  const cliRuns = Number(values['cli-runs']);
  return interleaved(ops, { runs: cliRuns, warmup: Math.min(3, cliRuns) });
}

try {
  const port = await freePort();
  await startSshd(port);
  const agent = await startLocalAgent(['--default-output-bytes', String(300 << 20)]);
  cleanups.push(() => agent.stop());
  const sb = await Sandbox.connect(agent.target);
  await sb.waitReady({ timeoutMs: 10_000 });
  const lat = await interleaved(
    {
      "runbox exec(['true'])": () => sb.exec(['true']),
      'ssh true (multiplexed)': () => run('ssh', [...sshArgs(port, true), 'true']),
    },
    { runs, warmup: Math.min(10, runs) },
  );
  const fresh = await interleaved(
    { 'ssh true (new connection)': () => run('ssh', [...sshArgs(port, false), 'true']) },
    {
      runs: Math.min(runs, 30),
      warmup: 3,
    },
  );
  const thr = await throughputs(sb, agent.pid, port);
  await sb.close();
  const cli = await cliLatency(agent.target, port);

  console.log(`runbox vs OpenSSH on loopback, ${machine()}`);
  console.log(`\nlatency, ${runs} rounds (interleaved; ratio = p50 / multiplexed ssh p50):`);
  printLatency([...lat, ...fresh], lat[1]);
  console.log(
    `\nstdout of head -c 256M /dev/zero, median of ${values.floods} (interleaved; ratio = MiB/s / counted ssh's; peak RSS during the flood, and its growth over the RSS before it, of the agent and of this process: the SDK, or ssh's reader):`,
  );
  for (const r of thr) {
    console.log(
      `  ${r.name.padEnd(30)} ${r.mibPerSecond.toFixed(0).padStart(5)} MiB/s (${r.spread.map((x) => x.toFixed(0)).join('-')})  ratio ${(r.mibPerSecond / thr[2].mibPerSecond).toFixed(2)}x  agent ${r.agentPeak.toFixed(0)} MiB (+${r.agentGrowth.toFixed(0)}), this process ${r.sdkPeak.toFixed(0)} MiB (+${r.sdkGrowth.toFixed(0)})`,
    );
  }
  console.log(`\nthe CLI, a new process per command, ${values['cli-runs']} rounds (interleaved; ratio = p50 / ssh's):`);
  printLatency(cli, cli[2]);
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
