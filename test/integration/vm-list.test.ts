// listSandboxes / `runbox vm ls` and the leftovers of a crashed runbox process: a VM directory
// whose state.json (written with writeState, as bootVm writes it) names a QEMU pid that is
// gone is listed as dead, once, and its directory removed; a VM whose pid lives is listed as
// running and left alone. No VM is needed: the listing reads only the state and /proc.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { listSandboxes } from '../../host/vm/list.js';
import { vmDir } from '../../host/vm/paths.js';
import { writeState, type VmState } from '../../host/vm/state.js';
import { cli } from '../helpers/run.js';

const home = mkdtempSync(path.join(os.tmpdir(), 'runbox-vm-list-'));
const env = { ...process.env, RUNBOX_HOME: home };
const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
  rmSync(home, { recursive: true, force: true });
});

/** The pid of a process that has exited (and been reaped): what a crashed host leaves in state.json. */
function deadPid(): number {
  const done = spawnSync('/bin/true');
  return done.pid;
}

/** A VM directory as bootVm leaves it once QEMU runs: state.json, an overlay, a console log. */
async function leftover(id: string, pid: number, startedAt: string): Promise<VmState> {
  const dir = vmDir(id, env);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileSync(path.join(dir, 'root.qcow2'), 'overlay');
  writeFileSync(path.join(dir, 'console.log'), 'boot log');
  const state: VmState = {
    id,
    image: 'python',
    init: 'systemd',
    dir,
    pid,
    net: 'user',
    target: 'tcp://127.0.0.1:40001',
    guestTarget: 'tcp://10.0.2.15:5000',
    consoleLog: path.join(dir, 'console.log'),
    consoleSocket: path.join(dir, 'console.sock'),
    qmpSocket: path.join(dir, 'qmp.sock'),
    machine: 'microvm',
    accel: 'tcg',
    cpus: 2,
    memoryMiB: 1024,
    tokenRequired: true,
    startedAt,
    restoredFrom: 'template 0123456789abcdef0123456789abcdef',
  };
  await writeState(state);
  return state;
}

describe('dead sandboxes: leftovers of a crashed runbox process', () => {
  it('listSandboxes shows a VM whose QEMU is gone as dead and removes its directory; a live one stays running', async () => {
    const dead = await leftover('dead0001', deadPid(), '2024-01-01T00:00:00.000Z');
    // A live process stands for a QEMU that runs: listing never stops a running VM.
    const live = spawn('/bin/sleep', ['300'], { stdio: 'ignore' });
    children.push(live);
    const running = await leftover('live0001', live.pid!, '2024-01-02T00:00:00.000Z');

    const listed = await listSandboxes({ env });
    expect(listed.map((s) => [s.id, s.status])).toEqual([
      ['dead0001', 'dead'],
      ['live0001', 'running'],
    ]);
    expect(listed[0]).toMatchObject({
      image: 'python',
      init: 'systemd',
      memoryMiB: 1024,
      restoredFrom: 'template 0123456789abcdef0123456789abcdef',
    });
    expect(listed[0]!.target).toBeUndefined();
    expect(listed[1]!.target).toBe(running.target);
    expect(existsSync(dead.dir)).toBe(false);
    expect(existsSync(running.dir)).toBe(true);
    // Listed once: the next listing no longer has it.
    expect((await listSandboxes({ env })).map((s) => s.id)).toEqual(['live0001']);
  });

  it('with clean: false a dead one is listed and kept', async () => {
    const dead = await leftover('dead0002', deadPid(), '2024-01-03T00:00:00.000Z');
    expect((await listSandboxes({ env, clean: false })).find((s) => s.id === 'dead0002')?.status).toBe('dead');
    expect(existsSync(dead.dir)).toBe(true);
    await listSandboxes({ env });
    expect(existsSync(dead.dir)).toBe(false);
  });

  it('runbox vm ls shows it dead, cleans it, and lists it no more', async () => {
    const dead = await leftover('dead0003', deadPid(), '2024-01-04T00:00:00.000Z');
    const first = await cli(['vm', 'ls'], { env: { RUNBOX_HOME: home } });
    expect(first.code).toBe(0);
    expect(first.stdout.toString()).toMatch(/^dead0003\s+python\/systemd\s+dead\s+\d+h\s+-\/1024M\s+template 0123456789abcdef/m);
    expect(existsSync(dead.dir)).toBe(false);
    const json = await cli(['vm', 'ls', '--json'], { env: { RUNBOX_HOME: home } });
    expect((JSON.parse(json.stdout.toString()) as { id: string }[]).map((s) => s.id)).not.toContain('dead0003');
  });
});
