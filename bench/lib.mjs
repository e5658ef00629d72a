// What the benchmarks share: timing calls side by side, starting a local agent, and memory
// figures of a process.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, chmodSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import v8 from 'node:v8';
import vm from 'node:vm';

export const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/**
 * Times each of `ops` (name -> async function) `runs` times, interleaved (one of each per
 * round), after `warmup` untimed rounds: a load that comes and goes on this shared machine
 * hits every operation alike, so their ratios hold even when the absolute times do not. Each
 * round starts one operation later, so each follows every other equally often (what one
 * leaves behind, a GC or a closing stream, lands on whichever comes next).
 * Returns { name, p50, p95 } in ms per operation, in order.
 */
export async function interleaved(ops, { runs, warmup }) {
  const entries = Object.entries(ops);
  for (let i = 0; i < warmup; i++) for (const [, once] of entries) await once();
  const times = entries.map(() => []);
  for (let i = 0; i < runs; i++) {
    for (let k = 0; k < entries.length; k++) {
      const j = (i + k) % entries.length;
      const start = performance.now();
      await entries[j][1]();
      times[j].push(performance.now() - start);
    }
  }
  return entries.map(([name], j) => {
    const sorted = times[j].sort((a, b) => a - b);
    return { name, p50: percentile(sorted, 50), p95: percentile(sorted, 95) };
  });
}

/** One line per result: p50, p95 and the p50 ratio to `base`. */
export function printLatency(results, base, width = 32) {
  for (const r of results) {
    console.log(
      `  ${r.name.padEnd(width)} p50 ${r.p50.toFixed(2).padStart(8)} ms  p95 ${r.p95.toFixed(2).padStart(8)} ms  ratio ${(r.p50 / base.p50).toFixed(2)}x`,
    );
  }
}

/** The machine's state, to print beside figures: CPUs and the 1-minute load. */
export const machine = () => `${os.cpus().length} CPUs, load ${os.loadavg()[0].toFixed(2)}`;

/** Resident set size of a process now (VmRSS), MiB. */
export const rssMiB = (pid) => kib(pid, 'VmRSS') / 1024;
/** Peak resident set size of a process since start or resetPeak (VmHWM), MiB. */
export const peakRssMiB = (pid) => kib(pid, 'VmHWM') / 1024;
const kib = (pid, field) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);

/**
 * A full garbage collection of this process, so a figure taken next starts from what is live
 * (a previous run's dead 256 MiB would count in the next one's peak otherwise).
 */
export const collectGarbage = (() => {
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc');
})();

/** Starts counting VmHWM afresh (clear_refs 5; our own processes, or root). */
export function resetPeak(pid) {
  writeFileSync(`/proc/${pid}/clear_refs`, '5');
}

/** uid/gid of `name` for spawn() when we are root and it is another user; undefined otherwise. */
export function runAsIdentity(name) {
  if (process.getuid?.() !== 0 || !name || name === 'root') return undefined;
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${name}:`));
  if (!line) return undefined;
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

/** Wall time of `node -e 0` (spawnSync), ms: Node's own start, the floor of any Node program. */
export function nodeStartMs() {
  const start = performance.now();
  spawnSync(process.execPath, ['-e', '0']);
  return performance.now() - start;
}

/**
 * Starts the built agent on a Unix socket in a fresh directory (no cgroups: never the host's).
 * `readyMs` is spawn -> the agent.ready line (start to serving, Node's own start included).
 */
export async function startLocalAgent(extraArgs = []) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'runbox-bench-'));
  chmodSync(dir, 0o755);
  const args = [
    path.join(repo, 'dist/agent/runbox-agent.js'),
    '--listen',
    `unix://${dir}/agent.sock`,
    '--cgroups',
    'off',
    '--work-dir',
    path.join(dir, 'runs'),
    '--cache-dir',
    path.join(dir, 'cache'),
    ...extraArgs,
  ];
  // Its log goes to a file, as it goes to the journal in a VM: a pipe read by this process would
  // make the benchmark's own event loop handle two log lines per run.
  const logFile = path.join(dir, 'agent.log');
  const log = openSync(logFile, 'w');
  const started = performance.now();
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', log] });
  closeSync(log);
  await new Promise((resolve, reject) => {
    const timer = setInterval(() => readFileSync(logFile, 'utf8').includes('agent.ready') && (clearInterval(timer), resolve()), 2);
    child.once('exit', (code) => (clearInterval(timer), reject(new Error(`agent exited with ${code}`))));
  });
  return {
    target: `unix://${dir}/agent.sock`,
    pid: child.pid,
    readyMs: performance.now() - started,
    stop: () => (child.kill('SIGTERM'), rmSync(dir, { recursive: true, force: true })),
  };
}
