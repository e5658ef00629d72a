// Shared by the VM tests: make sure an image is built (the builder caches by spec hash, so this is
// seconds when nothing changed), boot it, hand out a connected Sandbox, always stop the VM.
//
// RUNBOX_TEST_IMAGES_DIR=DIR boots images already built in DIR and never builds (for iterating
// on the launcher while images are built elsewhere).
import { buildImage } from '../../host/image/build.js';
import type { InitSystem } from '../../host/image/spec.js';
import { bootVm, type BootOptions, type VmHandle } from '../../host/vm/boot.js';
import { findBootableImage } from '../../host/vm/image.js';
import { Sandbox } from '../../host/sandbox.js';

export const IMAGES_DIR = process.env.RUNBOX_TEST_IMAGES_DIR || undefined;

/** Figures printed at the end of the suite: boot-to-ready per image and the like. */
export const figures: string[] = [];

export function figure(line: string): void {
  figures.push(line);
  process.stdout.write(`[figure] ${line}\n`);
}

export async function ensureImage(name: string, init: InitSystem = 'systemd'): Promise<void> {
  if (IMAGES_DIR) {
    await findBootableImage(name, init, IMAGES_DIR);
    return;
  }
  const started = Date.now();
  const result = await buildImage(name, { init });
  figure(`image ${name}/${init}: ${result.cached ? 'cached' : `built in ${((Date.now() - started) / 1000).toFixed(0)} s`}`);
}

export interface BootedVm {
  vm: VmHandle;
  sandbox: Sandbox;
  stop(): Promise<void>;
}

/** Builds (if needed) and boots `name`, returns a ready Sandbox on it. */
export async function bootImage(name: string, options: BootOptions & { token?: string } = {}): Promise<BootedVm> {
  await ensureImage(name, options.init ?? 'systemd');
  const vm = await bootVm(name, { imagesDir: IMAGES_DIR, ...options });
  figure(
    `boot-to-ready ${name}/${options.init ?? 'systemd'} (${vm.state.machine}, ${vm.state.accel}, ${vm.state.cpus} vCPU, ${vm.state.memoryMiB} MiB, net ${vm.state.net}): ${vm.bootToReadySeconds} s`,
  );
  let sandbox: Sandbox;
  try {
    sandbox = await Sandbox.connect(vm.target, { token: options.token, requestTimeoutMs: 120_000 });
  } catch (error) {
    await vm.stop();
    throw error;
  }
  return {
    vm,
    sandbox,
    async stop() {
      await sandbox.close();
      await vm.stop();
    },
  };
}

/** One program per language that prints 42, and one that does not compile (compiled languages). */
export const HELLO: Record<string, string> = {
  bash: 'echo "$((6 * 7))"\n',
  python: 'print(6 * 7)\n',
  javascript: 'console.log(6 * 7);\n',
  typescript: 'const answer: number = 6 * 7;\nconsole.log(answer);\n',
  go: 'package main\n\nimport "fmt"\n\nfunc main() {\n\tfmt.Println(6 * 7)\n}\n',
  rust: 'fn main() {\n    println!("{}", 6 * 7);\n}\n',
};

export const BROKEN: Record<string, string> = {
  go: 'package main\n\nfunc main() {\n\tundefinedThing()\n}\n',
  rust: 'fn main() {\n    let x: i32 = "not a number";\n}\n',
};
