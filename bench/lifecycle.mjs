// Sandbox lifecycle figures for one image, all in this process, as ratios against a cold boot:
// cold boot -> first result, template restore -> first result (createSandbox), and the
// resident memory of the VMs. Prints figures; asserts nothing. Needs root, QEMU, a built
// image and `npm run build`.
//   node bench/lifecycle.mjs [--image python] [--clones 3]
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { Sandbox } from '../dist/host/index.js';
import { bootVm, createSandbox } from '../dist/host/vm.js';

const { values } = parseArgs({ options: { image: { type: 'string', default: 'python' }, clones: { type: 'string', default: '3' } } });
const image = values.image;
const clones = Number(values.clones);
const hello = { python: 'print(42)', bash: 'echo 42', javascript: 'console.log(42)' }[image] ?? 'echo 42';
const language = { python: 'python', javascript: 'javascript' }[image] ?? 'bash';
const options = { net: 'user' };

/** Resident and proportional set size of a process, in MiB (PSS counts shared pages once). */
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

// Makes sure a template exists (the first create of this shape boots cold and saves it).
const first = await timed(() => createSandbox(image, options));
const firstMemory = memoryOf(first.value.vm.pid);
await first.value.kill();

const cold = await timed(async () => {
  const vm = await bootVm(image, options);
  const sb = await Sandbox.connect(vm.target);
  const r = await sb.runCode(language, hello, { timeoutMs: 120_000 });
  if (r.stdout.trim() !== '42') throw new Error(`cold boot: unexpected output ${JSON.stringify(r.stdout)}`);
  return { vm, sb };
});
const coldMemory = memoryOf(cold.value.vm.pid);
await cold.value.sb.close();
await cold.value.vm.stop();

const restores = [];
for (let i = 0; i < clones; i++) {
  restores.push(
    await timed(async () => {
      const sb = await createSandbox(image, options);
      const r = await sb.runCode(language, hello, { timeoutMs: 120_000 });
      if (r.stdout.trim() !== '42') throw new Error(`restore: unexpected output ${JSON.stringify(r.stdout)}`);
      return sb;
    }),
  );
}
const restoreMemory = restores.map((r) => memoryOf(r.value.vm.pid));
for (const r of restores) await r.value.kill();

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const restoreSeconds = median(restores.map((r) => r.seconds));
const restorePss = median(restoreMemory.map((m) => m.pss));
console.log(
  `runbox lifecycle, image ${image}, ${os.cpus().length} CPUs, load ${os.loadavg()[0].toFixed(2)}; one run, ratios against a cold boot in this process`,
);
console.log(`first createSandbox (made the template if there was none)  ${first.seconds.toFixed(1)} s`);
console.log(`cold boot -> first result                                  ${cold.seconds.toFixed(1)} s  1.00x`);
console.log(
  `template restore -> first result (median of ${clones})          ${restoreSeconds.toFixed(1)} s  ${(restoreSeconds / cold.seconds).toFixed(2)}x  (goal <= 0.10x)`,
);
console.log(
  `memory of a cold VM                                        RSS ${coldMemory.rss.toFixed(0)} MiB  PSS ${coldMemory.pss.toFixed(0)} MiB`,
);
console.log(
  `memory of a restored VM (median of ${clones})                   RSS ${median(restoreMemory.map((m) => m.rss)).toFixed(0)} MiB  PSS ${restorePss.toFixed(0)} MiB  ${(restorePss / coldMemory.pss).toFixed(2)}x  (goal <= 0.50x)`,
);
console.log(`(first create's VM: RSS ${firstMemory.rss.toFixed(0)} MiB)`);
