// runbox vm ls: the VMs started with --detach (or left behind by a crashed runbox).
import { EXIT, UsageError, printJson } from '../common.js';
import { defineCommand } from '../command.js';
import type { CliIo } from '../io.js';
import { listStates } from '../../vm/state.js';
import { isAlive } from '../../local/pids.js';

export const USAGE = `Usage: runbox vm ls [--json]

Lists VMs started with --detach (or left behind by a crashed runbox): id, image/init, network,
whether QEMU still runs, and the target to dial. Stop them with runbox vm stop.

Options:
      --json           print the VMs' states as JSON (each with "running")
  -h, --help           show this help
`;

export interface LsOptions {
  json: boolean;
}

async function run(o: LsOptions, io: CliIo): Promise<number> {
  const states = (await listStates()).map((s) => ({ ...s, running: s.pid > 0 && isAlive(s.pid) }));
  if (o.json) {
    printJson(io, states);
    return EXIT.ok;
  }
  if (states.length === 0) {
    io.stdout.write('no VMs\n');
    return EXIT.ok;
  }
  io.stdout.write(['ID'.padEnd(10), 'IMAGE'.padEnd(18), 'NET'.padEnd(5), 'STATUS'.padEnd(8), 'TARGET'].join(' ') + '\n');
  for (const s of states) {
    const status = s.running ? 'running' : 'dead';
    io.stdout.write([s.id.padEnd(10), `${s.image}/${s.init}`.padEnd(18), s.net.padEnd(5), status.padEnd(8), s.target].join(' ') + '\n');
  }
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
