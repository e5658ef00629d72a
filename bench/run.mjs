// Latency of a trivial run through runbox against a raw child_process.spawn of the same
// command in this process, as root and as the unprivileged user the agent runs code as (the
// fair baseline: the agent's spawn switches uid too). Interleaved, so load hits all alike.
// Prints figures (p50/p95 and ratios); asserts nothing. Needs `npm run build` first.
//   node bench/run.mjs [--runs N] [--target unix:///path]   (default: starts a local agent)
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { Sandbox } from '../dist/host/index.js';
import { interleaved, machine, printLatency, runAsIdentity, startLocalAgent } from './lib.mjs';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '300' }, target: { type: 'string' } } });
const runs = Number(values.runs);

function rawSpawn(identity = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn('true', [], { stdio: ['pipe', 'pipe', 'pipe'], ...identity });
    child.on('error', reject);
    child.on('close', resolve);
  });
}

const agent = values.target ? { target: values.target, stop: () => {} } : await startLocalAgent();
const sb = await Sandbox.connect(agent.target);
try {
  const health = await sb.waitReady({ timeoutMs: 10_000 });
  const user = runAsIdentity(health.runAsUser);
  const ops = { 'spawn(true) as root': () => rawSpawn() };
  if (user) ops[`spawn(true) as ${health.runAsUser}`] = () => rawSpawn(user);
  ops["exec(['true'])"] = () => sb.exec(['true']);
  ops["runCode('bash', 'true')"] = () => sb.runCode('bash', 'true');
  const results = await interleaved(ops, { runs, warmup: Math.min(20, runs) });
  const base = results[user ? 1 : 0];
  console.log(
    `runbox run latency, ${runs} rounds (interleaved), agent ${agent.target} (run as ${health.runAsUser}, limits ${health.limitsBackend}), ${machine()}`,
  );
  console.log(`ratio = p50 / p50 of ${base.name}`);
  printLatency(results, base, 28);
} finally {
  await sb.close();
  agent.stop();
}
