// Latency of a trivial run through runbox vs a raw child_process.spawn in this process.
// Prints figures (p50/p95 and ratios); asserts nothing. Needs `npm run build` first.
//   node bench/run.mjs [--runs N] [--target unix:///path]   (default: starts a local agent)
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { Sandbox } from '../dist/host/index.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({ options: { runs: { type: 'string', default: '200' }, target: { type: 'string' } } });
const runs = Number(values.runs);

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function measure(name, once) {
  for (let i = 0; i < Math.min(20, runs); i++) await once(); // warm-up
  const times = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await once();
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return { name, p50: percentile(times, 50), p95: percentile(times, 95) };
}

function rawSpawn() {
  return new Promise((resolve, reject) => {
    const child = spawn('true', [], { stdio: ['pipe', 'pipe', 'pipe'] });
    child.on('error', reject);
    child.on('close', resolve);
  });
}

async function startLocalAgent() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'runbox-bench-'));
  const args = [path.join(repo, 'dist/agent/runbox-agent.js'), '--listen', `unix://${dir}/agent.sock`, '--cgroups', 'off',
    '--work-dir', path.join(dir, 'runs'), '--cache-dir', path.join(dir, 'cache')];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  await new Promise((resolve, reject) => {
    child.stderr.on('data', (chunk) => String(chunk).includes('agent.ready') && resolve());
    child.once('exit', (code) => reject(new Error(`agent exited with ${code}`)));
  });
  return { target: `unix://${dir}/agent.sock`, stop: () => (child.kill('SIGTERM'), rmSync(dir, { recursive: true, force: true })) };
}

const agent = values.target ? { target: values.target, stop: () => {} } : await startLocalAgent();
const sb = await Sandbox.connect(agent.target);
try {
  const health = await sb.waitReady({ timeoutMs: 10_000 });
  const results = [
    await measure('child_process.spawn(true)', rawSpawn),
    await measure("exec(['true'])", () => sb.exec(['true'])),
    await measure("runCode('bash', 'true')", () => sb.runCode('bash', 'true')),
  ];
  const base = results[0];
  console.log(`runbox run latency, ${runs} runs each, agent ${agent.target} (run as ${health.runAsUser}, limits ${health.limitsBackend}), ${os.cpus().length} CPUs, load ${os.loadavg()[0].toFixed(2)}`);
  for (const r of results) {
    console.log(`${r.name.padEnd(28)} p50 ${r.p50.toFixed(2).padStart(7)} ms  p95 ${r.p95.toFixed(2).padStart(7)} ms  ratio p50 ${(r.p50 / base.p50).toFixed(1)}x  p95 ${(r.p95 / base.p95).toFixed(1)}x`);
  }
} finally {
  await sb.close();
  agent.stop();
}
