// runbox quickstart (`npm start`): the main job end to end. Builds the python image (cached
// after the first time), boots it under QEMU, runs a program inside it, and shuts it down.
import { buildImage } from '../image/index.js';
import { bootVm, type VmHandle } from '../vm/index.js';
import { Sandbox } from '../sandbox.js';
import { parse, runVerb } from './common.js';
import type { CliIo } from './io.js';

const USAGE = `Usage: runbox quickstart [--image NAME] [--net user|tap]

Builds the image (default python; cached after the first build), boots it, runs a short
program in it through the SDK, prints the result and stops the VM.
`;

const DEMO = `import os, platform, pwd, sys
print(f"hello from {platform.node()}: Python {platform.python_version()} on Linux {platform.release()}")
print(f"running as {pwd.getpwuid(os.getuid()).pw_name} (uid {os.getuid()}) with {os.cpu_count()} CPU(s)")
print("sum of squares below 1000:", sum(i * i for i in range(1000)))
name = sys.stdin.readline().strip()
print(f"stdin said: {name}")
`;

const stamp = (t0: number) => `[${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s]`;

export function main(argv: string[], io: CliIo): Promise<number> {
  return runVerb(USAGE, io, async () => {
    const { values } = parse(argv, { image: { type: 'string' }, net: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, false);
    if (values.help) return (io.stdout.write(USAGE), 0);
    const image = values.image ?? 'python';
    const net = values.net === 'tap' ? 'tap' : 'user';
    const t0 = Date.now();
    const say = (text: string) => io.stderr.write(`${stamp(t0)} ${text}\n`);

    say(`building image '${image}' (first time: a few minutes; then cached)`);
    const built = await buildImage(image, { onProgress: (e) => say(`  ${e.stage}: ${e.message}`) });
    say(built.cached ? `image '${image}' is up to date` : `image '${image}' built`);

    say(`booting '${image}' with QEMU (${net} network)`);
    let vm: VmHandle | undefined;
    const controller = new AbortController();
    const interrupt = () => controller.abort();
    io.events.once('SIGINT', interrupt);
    try {
      vm = await bootVm(image, { net, signal: controller.signal, onProgress: (p) => say(`  ${p.stage}: ${p.message}`) });
      say(`agent ready after ${vm.bootToReadySeconds.toFixed(1)} s at ${vm.target} (console log: ${vm.consoleLog})`);
      const sandbox = await Sandbox.connect(vm.target);
      try {
        say('running python inside the VM:');
        const result = await sandbox.runCode('python', DEMO, {
          stdin: 'runbox\n',
          timeoutMs: 30_000,
          onStdout: (text) => io.stdout.write(text),
          onStderr: (text) => io.stderr.write(text),
          signal: controller.signal,
        });
        say(`status ${result.status}, exit code ${result.exitCode}, ${result.durationMs} ms`);
        return result.status === 'exited' ? result.exitCode : 1;
      } finally {
        await sandbox.close();
      }
    } finally {
      io.events.off('SIGINT', interrupt);
      if (vm) {
        say('stopping the VM');
        await vm.stop();
      }
    }
  });
}
