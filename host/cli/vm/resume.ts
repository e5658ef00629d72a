// runbox vm resume: bring a paused sandbox back as the same machine, left running.
import { EXIT, UsageError, intFlag } from '../common.js';
import { defineCommand } from '../command.js';
import type { CliIo } from '../io.js';
import { resumeSandbox } from '../../vm/create.js';
import { isVmId } from '../../vm/paths.js';
import { printSandboxes } from './sandbox-output.js';
import { progressTo } from './run-flags.js';

export const USAGE = `Usage: runbox vm resume <id> [--wait-ms N] [--json]

Resumes a paused sandbox (runbox vm pause <id>): the same machine, its processes where they
were, claimed with a new token (in the printed token file). A paused state resumes once.

Options:
      --wait-ms N      give up if the agent has not answered after N ms (default 180000)
      --json           print the sandbox as JSON (id, target, tokenFile, restoredFrom, image, readySeconds)
  -h, --help           show this help
`;

export interface ResumeOptions {
  id: string;
  readyTimeoutMs: number | undefined;
  json: boolean;
}

async function run(o: ResumeOptions, io: CliIo): Promise<number> {
  const sb = await resumeSandbox(o.id, { detached: true, readyTimeoutMs: o.readyTimeoutMs, onProgress: progressTo(io) });
  await sb.close();
  printSandboxes(io, [sb], o.json);
  return EXIT.ok;
}

export const command = defineCommand({
  name: 'vm resume',
  usage: USAGE,
  flags: { 'wait-ms': { type: 'string' }, json: { type: 'boolean' } } as const,
  options(values, positionals): ResumeOptions {
    if (positionals.length !== 1) throw new UsageError('vm resume takes exactly one paused sandbox id (see runbox vm ls)');
    const id = positionals[0]!;
    if (!isVmId(id)) throw new UsageError(`vm resume ${JSON.stringify(id)}: not a sandbox id (see runbox vm ls)`);
    return { id, readyTimeoutMs: intFlag('wait-ms', values['wait-ms']), json: values.json ?? false };
  },
  run,
});
