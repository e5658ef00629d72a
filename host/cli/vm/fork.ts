// runbox vm fork: n new sandboxes that go on from a running one's state; it runs on.
import { EXIT, UsageError, intFlag } from '../common.js';
import { defineCommand } from '../command.js';
import type { CliIo } from '../io.js';
import { forkSandbox } from '../../vm/create.js';
import { isVmId } from '../../vm/paths.js';
import { MAX_FORKS } from '../../vm/fork.js';
import { printSandboxes } from './sandbox-output.js';
import { runningSandbox } from './pause.js';

export const USAGE = `Usage: runbox vm fork <id> [-n N] [--json]

Makes N (default 1, at most ${MAX_FORKS}) new sandboxes that each go on from the running sandbox
<id>'s state at this moment (files, processes, memory); <id> runs on. Each child is claimed
with a token of its own (in its printed token file) and left running.

Options:
  -n, --count N        how many (default 1)
      --json           print the children as JSON (an array when N > 1)
  -h, --help           show this help
`;

export interface ForkOptions {
  id: string;
  count: number;
  json: boolean;
}

async function run(o: ForkOptions, io: CliIo): Promise<number> {
  const { state, token } = await runningSandbox(o.id);
  const children = await forkSandbox({ id: state.id, state }, token, o.count, { detached: true });
  for (const child of children) await child.close();
  printSandboxes(io, children, o.json);
  return EXIT.ok;
}

export const command = defineCommand({
  name: 'vm fork',
  usage: USAGE,
  flags: { count: { type: 'string', short: 'n' }, json: { type: 'boolean' } } as const,
  options(values, positionals): ForkOptions {
    if (positionals.length !== 1) throw new UsageError('vm fork takes exactly one running sandbox id (see runbox vm ls)');
    const id = positionals[0]!;
    if (!isVmId(id)) throw new UsageError(`vm fork ${JSON.stringify(id)}: not a sandbox id (see runbox vm ls)`);
    const count = intFlag('count', values.count) ?? 1;
    if (count < 1 || count > MAX_FORKS) throw new UsageError(`--count ${count}: expected 1 to ${MAX_FORKS}`);
    return { id, count, json: values.json ?? false };
  },
  run,
});
