// ContextInfo from the wire.
import { ContextState, type ContextInfo as WireInfo } from '../../proto/gen/runbox/v1/context_pb.js';
import { AgentError } from '../errors.js';
import type { ContextInfo, ContextLanguage, ContextState as State } from './types.js';

const STATES: Record<ContextState, State> = {
  [ContextState.UNSPECIFIED]: 'busy',
  [ContextState.IDLE]: 'idle',
  [ContextState.BUSY]: 'busy',
  [ContextState.DEAD]: 'dead',
};

export function toContextInfo(info: WireInfo | undefined): ContextInfo {
  if (!info) throw new AgentError('the agent answered without the context');
  return {
    id: info.contextId,
    language: info.language as ContextLanguage,
    version: info.version,
    cwd: info.cwd,
    state: STATES[info.state],
    executionCount: info.executionCount,
    createdAt: new Date(Number(info.createdAtMs)),
    lastUsedAt: new Date(Number(info.lastUsedAtMs)),
    pid: info.pid,
    memoryBytes: Number(info.limits?.memoryBytes ?? 0),
    maxProcesses: info.limits?.maxProcesses ?? 0,
    death: info.death || undefined,
    idleTimeoutMs: Number(info.idleTimeoutMs),
  };
}
