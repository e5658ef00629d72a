// runbox vm ls: every local sandbox: running VMs, paused ones, and dead leftovers (cleaned).
import { EXIT, UsageError, printJson } from '../common.js';
import { defineCommand } from '../command.js';
import type { CliIo } from '../io.js';
import { listSandboxes, type SandboxInfo } from '../../vm/list.js';

export const USAGE = `Usage: runbox vm ls [--json]

Lists this host's sandboxes: VMs that run (started with --detach, or by a program that is
still running), paused ones on disk (bring one back with runbox vm resume <id>, or the SDK's
resumeSandbox), and dead ones (QEMU gone, left behind by a runbox process that crashed), which
are cleaned up once listed.
Shows id, image/init, status, age, memory (resident/assigned) and what it was restored from.

Options:
      --json           print the sandboxes as JSON (id, status, image, init, since, ageSeconds,
                       memoryMiB, rssMiB, target, restoredFrom)
  -h, --help           show this help
`;

export interface LsOptions {
  json: boolean;
}

function ageText(seconds: number): string {
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)}m`;
  return `${Math.round(seconds / 3600)}h`;
}

function row(s: SandboxInfo): string {
  const memory = s.rssMiB !== undefined ? `${s.rssMiB}/${s.memoryMiB}M` : `-/${s.memoryMiB}M`;
  return [
    s.id.padEnd(10),
    `${s.image}/${s.init}`.padEnd(18),
    s.status.padEnd(8),
    ageText(s.ageSeconds).padEnd(5),
    memory.padEnd(11),
    (s.restoredFrom ?? 'cold boot').padEnd(24),
    s.target ?? '',
  ]
    .join(' ')
    .trimEnd();
}

async function run(o: LsOptions, io: CliIo): Promise<number> {
  const sandboxes = await listSandboxes();
  if (o.json) {
    printJson(io, sandboxes);
    return EXIT.ok;
  }
  if (sandboxes.length === 0) {
    io.stdout.write('no sandboxes\n');
    return EXIT.ok;
  }
  io.stdout.write(
    ['ID'.padEnd(10), 'IMAGE'.padEnd(18), 'STATUS'.padEnd(8), 'AGE'.padEnd(5), 'MEMORY'.padEnd(11), 'FROM'.padEnd(24), 'TARGET'].join(' ') +
      '\n',
  );
  for (const s of sandboxes) io.stdout.write(row(s) + '\n');
  return EXIT.ok;
}

export const command = defineCommand({
  name: 'vm ls',
  usage: USAGE,
  flags: { json: { type: 'boolean' } } as const,
  options(values, positionals): LsOptions {
    if (positionals.length > 0) throw new UsageError('vm ls takes no arguments');
    return { json: values.json ?? false };
  },
  run,
});
