// Latency of a trivial run through runbox vs a raw child_process.spawn in this process.
// Prints figures (p50/p95 and ratios); asserts nothing. Needs `npm run build` first.
//   node bench/run.mjs [--runs N] [--target unix:///path]   (default: starts a local agent)
import { spawn } from 'node:child_process';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { Sandbox } from '../dist/host/index.js';
import { latency, startLocalAgent } from './lib.mjs';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '200' }, target: { type: 'string' } } });
const runs = Number(values.runs);
const measure = (name, once) => latency(name, once, { runs, warmup: Math.min(20, runs) });

function rawSpawn() {
  return new Promise((resolve, reject) => {
    const child = spawn('true', [], { stdio: ['pipe', 'pipe', 'pipe'] });
    child.on('error', reject);
    child.on('close', resolve);
  });
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
  console.log(
    `runbox run latency, ${runs} runs each, agent ${agent.target} (run as ${health.runAsUser}, limits ${health.limitsBackend}), ${os.cpus().length} CPUs, load ${os.loadavg()[0].toFixed(2)}`,
  );
  for (const r of results) {
    console.log(
      `${r.name.padEnd(28)} p50 ${r.p50.toFixed(2).padStart(7)} ms  p95 ${r.p95.toFixed(2).padStart(7)} ms  ratio p50 ${(r.p50 / base.p50).toFixed(1)}x  p95 ${(r.p95 / base.p95).toFixed(1)}x`,
    );
  }
} finally {
  await sb.close();
  agent.stop();
}
