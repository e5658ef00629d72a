// runbox vm pause: save a running sandbox (memory, devices, disk) and end its QEMU.
import { readFile } from 'node:fs/promises';
import { EXIT, UsageError, printJson } from '../common.js';
import { defineCommand } from '../command.js';
import type { CliIo } from '../io.js';
import { NotFoundError } from '../../errors.js';
import { pauseVm, pausedDir } from '../../vm/pause.js';
import { isVmId, vmDir } from '../../vm/paths.js';
import { readState, sandboxTokenFile, type VmState } from '../../vm/state.js';
import { stopVm } from '../../vm/stop.js';

export const USAGE = `Usage: runbox vm pause <id> [--json]

Saves a running sandbox (one made by runbox vm create, resume or fork) to disk and ends its
QEMU, freeing its memory. Runs in flight end (their processes are killed); shell sessions
live on and can be attached again after runbox vm resume <id>.

Options:
      --json           print { id, pausedDir } as JSON
  -h, --help           show this help
`;

export interface PauseOptions {
  id: string;
  json: boolean;
}

/** A running sandbox's state and token, read back from its VM directory. */
export async function runningSandbox(id: string): Promise<{ state: VmState; token: string }> {
  const state = await readState(vmDir(id));
  if (!state) throw new NotFoundError(`vm ${id}: no such running sandbox (see runbox vm ls)`);
  const token = await readFile(sandboxTokenFile(state), 'utf8').catch(() => undefined);
  if (token === undefined)
    throw new NotFoundError(`vm ${id}: not a sandbox made by runbox vm create, resume or fork (it has no token file)`);
  return { state, token };
}

async function run(o: PauseOptions, io: CliIo): Promise<number> {
  const { state, token } = await runningSandbox(o.id);
  const id = await pauseVm({ id: state.id, state, stop: () => stopVm(state) }, token);
  if (o.json) printJson(io, { id, pausedDir: `${pausedDir()}/${id}` });
  else io.stdout.write(`sandbox ${id}: paused (${pausedDir()}/${id}); resume with: runbox vm resume ${id}\n`);
  return EXIT.ok;
}

export const command = defineCommand({
  name: 'vm pause',
  usage: USAGE,
  flags: { json: { type: 'boolean' } } as const,
  options(values, positionals): PauseOptions {
    if (positionals.length !== 1) throw new UsageError('vm pause takes exactly one sandbox id (see runbox vm ls)');
    const id = positionals[0]!;
    if (!isVmId(id)) throw new UsageError(`vm pause ${JSON.stringify(id)}: not a sandbox id (see runbox vm ls)`);
    return { id, json: values.json ?? false };
  },
  run,
});
