// What `vm create`, `vm resume` and `vm fork` print about a sandbox they made: the same lines
// (or JSON object) for each, so scripts read one shape.
import { printJson } from '../common.js';
import type { CliIo } from '../io.js';
import type { LocalSandbox } from '../../vm/create.js';
import { sandboxTokenFile } from '../../vm/state.js';

export interface SandboxSummary {
  id: string;
  target: string;
  tokenFile: string;
  restoredFrom: string;
  image: string;
  readySeconds: number;
}

export function summary(sb: LocalSandbox): SandboxSummary {
  const state = sb.vm.state;
  return {
    id: state.id,
    target: state.target,
    tokenFile: sandboxTokenFile(state),
    restoredFrom: state.restoredFrom ?? '',
    image: state.image,
    readySeconds: state.bootToReadySeconds ?? 0,
  };
}

export function printSandboxes(io: CliIo, sandboxes: LocalSandbox[], json: boolean): void {
  const all = sandboxes.map(summary);
  if (json) return printJson(io, all.length === 1 ? all[0] : all);
  for (const s of all) {
    io.stdout.write(
      [
        `sandbox ${s.id} ready in ${s.readySeconds} s (${s.image}, from ${s.restoredFrom})`,
        `target   ${s.target}`,
        `token    ${s.tokenFile}   (runbox run --target ${s.target} --token-file ${s.tokenFile} ...)`,
        `pause    runbox vm pause ${s.id}`,
        `stop     runbox vm stop ${s.id}`,
      ].join('\n') + '\n',
    );
  }
}
