// What the benchmarks share: timing a call many times, and starting a local agent.
import { spawn } from 'node:child_process';
import { mkdtempSync, chmodSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Calls `once` `warmup` times untimed, then `runs` times timed; p50/p95 in ms. */
export async function latency(name, once, { runs, warmup }) {
  for (let i = 0; i < warmup; i++) await once();
  const times = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await once();
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return { name, p50: percentile(times, 50), p95: percentile(times, 95) };
}

/** Starts the built agent on a Unix socket in a fresh directory (no cgroups: never the host's). */
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
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  await new Promise((resolve, reject) => {
    child.stderr.on('data', (chunk) => String(chunk).includes('agent.ready') && resolve());
    child.once('exit', (code) => reject(new Error(`agent exited with ${code}`)));
  });
  return { target: `unix://${dir}/agent.sock`, stop: () => (child.kill('SIGTERM'), rmSync(dir, { recursive: true, force: true })) };
}
