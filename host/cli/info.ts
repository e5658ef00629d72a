// runbox info: the sandbox's health and system information.
import { TARGET_OPTIONS, TARGET_USAGE, connect, mib, parse, printJson, runVerb } from './common.js';
import { printable } from './printable.js';
import type { CliIo } from './io.js';

const USAGE = `Usage: runbox info --target T [--json]

Shows the agent's health and the sandbox's CPU, memory, disks, OS and network.

${TARGET_USAGE}
      --json           print JSON
`;

export function main(argv: string[], io: CliIo): Promise<number> {
  return runVerb(USAGE, io, async () => {
    const { values } = parse(argv, { ...TARGET_OPTIONS, json: { type: 'boolean' } }, false);
    if (values.help) return (io.stdout.write(USAGE), 0);
    const sandbox = await connect(values, io);
    try {
      const [health, info] = await Promise.all([sandbox.health(), sandbox.systemInfo()]);
      if (values.json) {
        printJson(io, { health, system: info });
        return 0;
      }
      const lines = [
        `agent     runbox-agent ${health.version}, up ${health.uptimeSeconds.toFixed(0)} s, user code runs as ${health.runAsUser}, isolation ${health.isolation}`,
        `limits    ${health.limitsBackend} (${health.limitsDetail}); ${health.activeRuns}/${health.maxConcurrentRuns} runs active; token ${health.authRequired ? 'required' : 'not required'}`,
        `os        ${info.os.distro} ${info.os.release}, kernel ${info.os.kernel}, ${info.os.arch}, host ${info.os.hostname}, up ${info.uptimeSeconds.toFixed(0)} s`,
        `cpu       ${info.cpu.manufacturer} ${info.cpu.brand}, ${info.cpu.cores} cores; load ${info.load.avg1.toFixed(2)} ${info.load.avg5.toFixed(2)} ${info.load.avg15.toFixed(2)}`,
        `memory    ${mib(info.memory.totalBytes)} total, ${mib(info.memory.availableBytes)} available`,
        ...info.disks.map((d) => `disk      ${d.mount} ${d.fsType} ${mib(d.sizeBytes)}, ${mib(d.availableBytes)} free (${d.device})`),
        ...info.interfaces.map((i) => `network   ${i.name} ${i.ip4 || '-'} ${i.state}`),
      ];
      io.stdout.write(printable(lines.join('\n')) + '\n');
      return 0;
    } finally {
      await sandbox.close();
    }
  });
}
