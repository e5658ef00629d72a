// Code contexts against fresh-process runs, in one process against one local agent: how long a
// context takes to be ready, and a cell's round trip against runCode of the same code (which
// starts an interpreter every time). Prints figures; asserts nothing. Needs `npm run build`.
//   node bench/contexts.mjs [--runs N] [--target unix:///path]   (default: starts a local agent)
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Sandbox } from '../dist/host/index.js';
import { latency, percentile, startLocalAgent } from './lib.mjs';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '50' }, target: { type: 'string' } } });
const runs = Number(values.runs);
const measure = (name, once) => latency(name, once, { runs, warmup: Math.min(5, runs) });

/** Median time from CreateContext to a context ready for code, over `n` contexts. */
async function createTime(sb, language, n) {
  const times = [];
  for (let i = 0; i < n; i++) {
    const start = performance.now();
    const ctx = await sb.contexts.create(language);
    times.push(performance.now() - start);
    await ctx.close();
  }
  return percentile(
    times.sort((a, b) => a - b),
    50,
  );
}

const agent = values.target
  ? { target: values.target, stop: () => {} }
  : await startLocalAgent(process.getuid?.() === 0 ? ['--user', 'runbox'] : []);
const sb = await Sandbox.connect(agent.target);
try {
  const health = await sb.waitReady({ timeoutMs: 10_000 });
  console.log(
    `code contexts vs runs, ${runs} cells each, agent ${agent.target} (run as ${health.runAsUser}), ${os.cpus().length} CPUs, load ${os.loadavg()[0].toFixed(2)}`,
  );
  for (const [language, code, plain] of [
    ['python', '6 * 7', 'print(6 * 7)'],
    ['javascript', '6 * 7', 'console.log(6 * 7)'],
  ]) {
    const ready = await createTime(sb, language, 5);
    const ctx = await sb.contexts.create(language);
    const cell = await measure(`${language} cell`, () => ctx.run(code));
    const run = await measure(`${language} runCode`, () => sb.runCode(language, plain));
    await ctx.close();
    console.log(`${language.padEnd(10)} context ready p50 ${ready.toFixed(0).padStart(5)} ms`);
    for (const r of [cell, run]) {
      console.log(
        `${r.name.padEnd(20)} p50 ${r.p50.toFixed(2).padStart(7)} ms  p95 ${r.p95.toFixed(2).padStart(7)} ms  ratio to runCode p50 ${(r.p50 / run.p50).toFixed(2)}x`,
      );
    }
  }
} finally {
  await sb.close();
  agent.stop();
}
