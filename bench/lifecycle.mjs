// Sandbox lifecycle figures for one image, all in this process, as ratios against baselines
// run here: a cold boot -> first result, template restore -> first result (createSandbox),
// pool take -> first result, pause, resume -> first result, a fork of N -> all N serving
// (against one restore), and RSS/PSS per VM with N clones of one template alive at once
// (against a cold VM). Prints figures; asserts nothing. Needs root, QEMU, a built image and
// `npm run build`.
//   node bench/lifecycle.mjs [--image python] [--clones 10]
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { Sandbox } from '../dist/host/index.js';
import { bootVm, createSandbox, resumeSandbox, SandboxPool } from '../dist/host/vm.js';

const { values } = parseArgs({ options: { image: { type: 'string', default: 'python' }, clones: { type: 'string', default: '10' } } });
const image = values.image;
const clones = Number(values.clones);
const hello = { python: 'print(42)', bash: 'echo 42', javascript: 'console.log(42)' }[image] ?? 'echo 42';
const language = { python: 'python', javascript: 'javascript' }[image] ?? 'bash';
const options = { net: 'user' };

/** Resident and proportional set size of a process, in MiB (PSS divides shared pages among their sharers). */
function memoryOf(pid) {
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kib = (name) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(rollup)?.[1] ?? 0);
  return { rss: kib('Rss') / 1024, pss: kib('Pss') / 1024 };
}

async function timed(what) {
  const start = performance.now();
  const value = await what();
  return { value, seconds: (performance.now() - start) / 1000 };
}

async function firstResult(sb, what) {
  const r = await sb.runCode(language, hello, { timeoutMs: 120_000 });
  if (r.stdout.trim() !== '42') throw new Error(`${what}: unexpected output ${JSON.stringify(r.stdout)}`);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const lines = [];
const row = (what, figure, ratio = '') => lines.push(`${what.padEnd(52)} ${figure.padEnd(28)} ${ratio}`);

// Makes sure a template exists (the first create of this shape boots cold and saves it).
const first = await timed(() => createSandbox(image, options));
await first.value.kill();

const cold = await timed(async () => {
  const vm = await bootVm(image, options);
  const sb = await Sandbox.connect(vm.target);
  await firstResult(sb, 'cold boot');
  return { vm, sb };
});
const coldMemory = memoryOf(cold.value.vm.pid);
await cold.value.sb.close();
await cold.value.vm.stop();

// N clones, one after another, all kept alive: the memory figure is N clones of one template.
const restores = [];
for (let i = 0; i < clones; i++) {
  restores.push(
    await timed(async () => {
      const sb = await createSandbox(image, options);
      await firstResult(sb, 'restore');
      return sb;
    }),
  );
}
const restoreMemory = restores.map((r) => memoryOf(r.value.vm.pid));
const restoreSeconds = median(restores.map((r) => r.seconds));

// Pause and resume one of them.
const paused = await timed(() => restores[0].value.pause());
const resumed = await timed(async () => {
  const sb = await resumeSandbox(paused.value);
  await firstResult(sb, 'resume');
  return sb;
});
await resumed.value.kill();

// A fork of N from one of them, the others ended first (N more TCG guests on this machine's cores are load enough).
const parent = restores[1].value;
await Promise.all(restores.slice(2).map((r) => r.value.kill()));
const forked = await timed(async () => {
  const children = await parent.fork(clones);
  await Promise.all(children.map((child) => firstResult(child, 'fork')));
  return children;
});
await Promise.all(forked.value.map((child) => child.kill()));
await parent.kill();

// A pool of one: take() hands out a ready sandbox.
const pool = await SandboxPool.start(image, { ...options, size: 1 });
const take = await timed(() => pool.take());
const takeToResult = await timed(() => firstResult(take.value, 'pool'));
await take.value.kill();
await pool.close();

const x = (a, b) => `${(a / b).toFixed(2)}x`;
const rss = median(restoreMemory.map((m) => m.rss));
const pss = median(restoreMemory.map((m) => m.pss));
console.log(
  `runbox lifecycle, image ${image}, ${os.cpus().length} CPUs, load ${os.loadavg()[0].toFixed(2)}; one run, ratios against baselines in this process`,
);
row('first createSandbox (made the template if none)', `${first.seconds.toFixed(1)} s`);
row('cold boot -> first result', `${cold.seconds.toFixed(1)} s`, '1.00x');
row(
  `template restore -> first result (median of ${clones})`,
  `${restoreSeconds.toFixed(1)} s`,
  `${x(restoreSeconds, cold.seconds)} of cold (goal <= 0.10x)`,
);
row('pool take()', `${(take.seconds * 1000).toFixed(1)} ms`, '(goal <= 50 ms)');
row(
  'pool take() -> first result',
  `${(take.seconds + takeToResult.seconds).toFixed(1)} s`,
  `${x(take.seconds + takeToResult.seconds, cold.seconds)} of cold`,
);
row('pause', `${paused.seconds.toFixed(1)} s`);
row('resume -> first result', `${resumed.seconds.toFixed(1)} s`, `${x(resumed.seconds, cold.seconds)} of cold`);
row(
  `fork of ${clones} -> all ${clones} first results`,
  `${forked.seconds.toFixed(1)} s`,
  `${x(forked.seconds, restoreSeconds)} of one restore (goal <= 3x)`,
);
row('memory of a cold VM', `RSS ${coldMemory.rss.toFixed(0)} PSS ${coldMemory.pss.toFixed(0)} MiB`);
row(
  `memory per clone, ${clones} alive (median)`,
  `RSS ${rss.toFixed(0)} PSS ${pss.toFixed(0)} MiB`,
  `PSS ${x(pss, coldMemory.pss)} of cold (goal <= 0.50x)`,
);
console.log(lines.join('\n'));
