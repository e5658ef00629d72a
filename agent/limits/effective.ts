// A limit a request asks for, made effective: 0 (or absent) is the agent's default, more than
// the agent's maximum is the maximum. Runs and code contexts take their limits this way.
import type { AgentConfig } from '../core/config.js';
import type { LimitsBackend, StageLimits } from './cgroups.js';

export function effectiveLimit(requested: bigint | number | undefined, fallback: number, maximum: number): number {
  const value = Number(requested ?? 0);
  return value === 0 ? fallback : Math.min(value, maximum);
}

/** Memory and process-count limits of a process tree; 0 each when the backend cannot enforce them. */
export function treeLimits(
  config: AgentConfig,
  backend: LimitsBackend,
  requested: { memoryBytes?: bigint | number; maxProcesses?: number } | undefined,
): StageLimits {
  if (backend.kind !== 'cgroup_v2') return { memoryBytes: 0, maxProcesses: 0 };
  const { defaults: d, maximums: m } = config;
  return {
    memoryBytes: effectiveLimit(requested?.memoryBytes, d.memoryBytes, m.memoryBytes),
    maxProcesses: effectiveLimit(requested?.maxProcesses, d.maxProcesses, m.maxProcesses),
  };
}
