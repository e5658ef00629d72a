// runbox machine export: a built image as a portable machine package (docs/sharing.md).
import { EXIT, UsageError, choice, intFlag, printJson } from '../common.js';
import { defineCommand } from '../command.js';
import type { CliIo } from '../io.js';
import { exportMachine, parseRepo, type MachineRepo } from '../../share/index.js';
import { imageAndInit } from '../image/push.js';
import type { InitSystem } from '../../image/index.js';

export const USAGE = `Usage: runbox machine export <image>[/<init>] [--repo R]... [--memory MiB] [--cpus N]
                              [--machine microvm|q35] [--out DIR] > machine.json

Writes a machine package to stdout: each asset of the image (rootfs, kernel, vmlinux,
initramfs) by content id with its kind and size, the machine's shape, the init system and
boot arguments, and the repos to fetch the assets from. \`runbox vm run ./machine.json\` on
any host boots it, fetching and verifying what is missing.

Options:
      --repo R         a registry reference (host/repo:tag) or listing (…/bundles.json) that
                       holds the image; repeat for more, tried in order
      --memory MiB     guest memory (default 1024)
      --cpus N         vCPUs (default 2)
      --machine M      microvm (default) or q35
      --out DIR        image directory (default: $RUNBOX_HOME/images, RUNBOX_HOME=~/.cache/runbox)
  -h, --help           show this help
`;

export interface MachineExportOptions {
  image: string;
  init: InitSystem;
  repos: MachineRepo[];
  memoryMiB?: number;
  cpus?: number;
  machine?: 'microvm' | 'q35';
  outDir?: string;
}

async function run(o: MachineExportOptions, io: CliIo): Promise<number> {
  printJson(
    io,
    await exportMachine(o.image, o.init, {
      ...(o.outDir !== undefined ? { imagesDir: o.outDir } : {}),
      machine: {
        ...(o.machine ? { type: o.machine } : {}),
        ...(o.memoryMiB ? { memoryMiB: o.memoryMiB } : {}),
        ...(o.cpus ? { cpus: o.cpus } : {}),
      },
      repos: o.repos,
    }),
  );
  return EXIT.ok;
}

export const command = defineCommand({
  name: 'machine export',
  usage: USAGE,
  flags: {
    repo: { type: 'string', multiple: true },
    memory: { type: 'string' },
    cpus: { type: 'string' },
    machine: { type: 'string' },
    out: { type: 'string' },
  } as const,
  options(values, positionals): MachineExportOptions {
    if (positionals.length !== 1)
      throw new UsageError('machine export takes one image: runbox machine export python --repo 127.0.0.1:5000/runbox/python:1');
    const memoryMiB = intFlag('memory', values.memory);
    const cpus = intFlag('cpus', values.cpus);
    const machine = choice('machine', values.machine, ['microvm', 'q35'] as const);
    let repos: MachineRepo[];
    try {
      repos = (values.repo ?? []).map(parseRepo);
    } catch (error) {
      throw new UsageError(`--repo: ${(error as Error).message}`);
    }
    return {
      ...imageAndInit(positionals[0]!),
      repos,
      ...(memoryMiB !== undefined ? { memoryMiB } : {}),
      ...(cpus !== undefined ? { cpus } : {}),
      ...(machine !== undefined ? { machine } : {}),
      ...(values.out !== undefined ? { outDir: values.out } : {}),
    };
  },
  run,
});
