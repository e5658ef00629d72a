// Cancellation from the SDK reaches the agent however early it comes, and a stopping agent
// exits even with calls in flight.
import { beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, chmodSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AbortError, Sandbox } from '../../host/index.js';
import { startAgent, type RunningAgent, useAgent } from '../helpers/agent.js';

async function untilIdle(sb: Sandbox): Promise<void> {
  while ((await sb.health()).activeRuns > 0) await new Promise((r) => setTimeout(r, 50));
}

describe('cancel', () => {
  let agent: RunningAgent;
  let sb: Sandbox;
  let dir: string;
  const fixture = useAgent();
  beforeAll(() => {
    ({ agent, sb } = fixture);
    dir = mkdtempSync(path.join(os.tmpdir(), 'runbox-cancel-'));
    chmodSync(dir, 0o777);
  });

  // The program leaves a marker only if it lives to its end: if the cancel were lost, the run
  // would only leave the agent's books after writing it.
  const program = (marker: string) => ['sh', '-c', `sleep 3; touch ${marker}`];

  it('an abort in the same tick as the call kills the run', async () => {
    for (let round = 0; round < 3; round++) {
      const marker = path.join(dir, `same-tick-${round}`);
      const controller = new AbortController();
      const run = sb.exec(program(marker), { signal: controller.signal });
      controller.abort();
      await expect(run).rejects.toThrow(AbortError);
      await untilIdle(sb);
      expect(existsSync(marker)).toBe(false);
    }
  });

  it('closing the Sandbox right after starting a run kills it', async () => {
    const other = await Sandbox.connect(agent.tcpTarget);
    await other.waitReady();
    const marker = path.join(dir, 'closed');
    const run = other.exec(program(marker)).catch((e: unknown) => e);
    await other.close();
    expect(await run).toBeInstanceOf(AbortError);
    await untilIdle(sb);
    expect(existsSync(marker)).toBe(false);
  });

  it('SIGTERM ends an agent with a run in flight, killing the run', async () => {
    const doomed = await startAgent();
    const client = await Sandbox.connect(doomed.unixTarget);
    await client.waitReady();
    const marker = path.join(dir, 'shutdown');
    const run = client.exec(['sh', '-c', `sleep 30; touch ${marker}`]).catch((e: unknown) => e);
    while ((await client.health()).activeRuns === 0) await new Promise((r) => setTimeout(r, 20));
    expect(await doomed.stop()).toBe(0);
    const outcome = await run;
    // Either the run ended as cancelled (the agent said why) or the call broke: never a normal exit.
    if (!(outcome instanceof Error)) expect((outcome as { status: string }).status).toBe('cancelled');
    expect(existsSync(marker)).toBe(false);
    await client.close();
  });
});
