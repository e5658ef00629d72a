// The agent's own start and memory, against Node's: spawn -> serving (the agent.ready line)
// against `node -e 0`, and the resident set of an idle agent against an idle `node`, 1 s after
// it is ready and again after V8's memory reducer ran (~10 s idle). Prints figures; asserts
// nothing. Needs `npm run build` first.
//   node bench/agent.mjs [--starts N]
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { machine, nodeStartMs, percentile, rssMiB, startLocalAgent } from './lib.mjs';

const { values } = parseArgs({ options: { starts: { type: 'string', default: '7' } } });
const starts = Number(values.starts);
const median = (xs) =>
  percentile(
    [...xs].sort((a, b) => a - b),
    50,
  );

const ready = [];
const idle = [];
const nodeMs = [];
const nodeIdle = [];
for (let i = 0; i < starts; i++) {
  nodeMs.push(nodeStartMs());
  const bare = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 1500)']);
  const agent = await startLocalAgent();
  await sleep(1000);
  idle.push(rssMiB(agent.pid));
  nodeIdle.push(rssMiB(bare.pid));
  ready.push(agent.readyMs);
  agent.stop();
  await new Promise((resolve) => bare.once('exit', resolve));
}
const last = await startLocalAgent();
await sleep(12_000);
const reduced = rssMiB(last.pid);
last.stop();

console.log(`agent start and memory, ${starts} starts, ${machine()}`);
const start = median(ready);
const node = median(nodeMs);
console.log(
  `  start -> serving   p50 ${start.toFixed(0).padStart(5)} ms   node -e 0 ${node.toFixed(0).padStart(5)} ms   ratio ${(start / node).toFixed(2)}x`,
);
const rss = median(idle);
const nodeRss = median(nodeIdle);
console.log(
  `  idle RSS (1 s)         ${rss.toFixed(1).padStart(5)} MiB  idle node ${nodeRss.toFixed(1).padStart(5)} MiB  ratio ${(rss / nodeRss).toFixed(2)}x`,
);
console.log(`  idle RSS (12 s)        ${reduced.toFixed(1).padStart(5)} MiB  (after V8's memory reducer)`);
