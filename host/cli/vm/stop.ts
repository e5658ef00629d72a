// runbox vm stop: stop detached VMs (or ones a crashed runbox left) and remove what they created.
import { EXIT, UsageError } from '../common.js';
import { defineCommand } from '../command.js';
import type { CliIo } from '../io.js';
import { NotFoundError } from '../../errors.js';
import { stopVm } from '../../vm/stop.js';
import { listStates, readState, type VmState } from '../../vm/state.js';
import { isVmId, vmDir } from '../../vm/paths.js';
import { pausedDir, removePaused } from '../../vm/pause.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export const USAGE = `Usage: runbox vm stop <id>... | --all

Stops detached VMs and sandboxes (runbox vm run --detach, vm create, resume, fork) and removes
their network namespace, overlay disk and state; a paused sandbox's id discards its saved
state. The ids are those runbox vm ls lists.

Options:
      --all            every VM listed by vm ls
  -h, --help           show this help
`;

/** Either `all` or at least one id. */
export interface StopOptions {
  ids: string[];
  all: boolean;
}

async function statesOf(o: StopOptions): Promise<VmState[]> {
  if (o.all) return listStates();
  const states: VmState[] = [];
  for (const id of o.ids) {
    const state = await readState(vmDir(id));
    if (!state) throw new NotFoundError(`vm ${id}: no such VM (see runbox vm ls)`);
    states.push(state);
  }
  return states;
}

async function run(o: StopOptions, io: CliIo): Promise<number> {
  // A paused sandbox has no VM to stop: its saved state is what goes.
  const paused = o.all ? [] : o.ids.filter((id) => !existsSync(vmDir(id)) && existsSync(join(pausedDir(), id)));
  for (const id of paused) {
    await removePaused(id);
    io.stdout.write(`sandbox ${id}: paused state discarded\n`);
  }
  for (const state of await statesOf({ ...o, ids: o.ids.filter((id) => !paused.includes(id)) })) {
    const method = await stopVm(state);
    io.stdout.write(`vm ${state.id}: stopped (${method})\n`);
  }
  return EXIT.ok;
}

export const command = defineCommand({
  name: 'vm stop',
  usage: USAGE,
  flags: { all: { type: 'boolean' } } as const,
  options(values, positionals): StopOptions {
    if (values.all) {
      if (positionals.length > 0) throw new UsageError('vm stop: give ids or --all, not both');
      return { ids: [], all: true };
    }
    if (positionals.length === 0) throw new UsageError('vm stop needs a VM id (see runbox vm ls) or --all');
    for (const id of positionals) {
      if (!isVmId(id)) throw new UsageError(`vm stop ${JSON.stringify(id)}: not a VM id (see runbox vm ls)`);
    }
    return { ids: positionals, all: false };
  },
  run,
});
