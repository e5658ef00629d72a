// A non-Node client: Python grpcio (Debian's python3-grpcio) reaches the agent with nothing
// but the standard protos (health, reflection, google.rpc) compiled by protoc at test time;
// runbox's own messages come from server reflection. It checks grpc.health.v1, reflection,
// one run and one machine-readable error reason.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO, useAgent } from '../helpers/agent.js';
import { requireInCi } from '../helpers/required.js';

// The system Python: Debian's python3-grpcio lives there, not in a pyenv or venv.
const PYTHON = '/usr/bin/python3';
const TOKEN = 'python-client-token';

function available(): boolean {
  const probe = spawnSync(PYTHON, ['-c', 'import grpc, google.protobuf'], { stdio: 'ignore' });
  const protoc = spawnSync('protoc', ['--version'], { stdio: 'ignore' });
  return probe.status === 0 && protoc.status === 0;
}

describe('a Python grpcio client', () => {
  const fixture = useAgent({ token: TOKEN });
  const gen = mkdtempSync(path.join(os.tmpdir(), 'runbox-pygen-'));
  afterAll(() => rmSync(gen, { recursive: true, force: true }));

  it('gets SERVING from grpc.health.v1, learns the contract by reflection, runs a command and reads a reason', (ctx) => {
    requireInCi(ctx, available(), 'python3-grpcio, python3-protobuf and protoc');
    const protos = [
      'grpc/health/v1/health.proto',
      'grpc/reflection/v1/reflection.proto',
      'google/rpc/status.proto',
      'google/rpc/error_details.proto',
    ];
    execFileSync('protoc', ['-I', path.join(REPO, 'proto'), `--python_out=${gen}`, ...protos]);
    const socket = fixture.agent.unixTarget.replace('unix://', 'unix:');
    const stdout = execFileSync(PYTHON, [path.join(REPO, 'test/clients/python_client.py'), socket, TOKEN, gen], { encoding: 'utf8' });
    const result = JSON.parse(stdout) as Record<string, unknown>;

    expect(result.health).toBe('SERVING');
    expect(result.health_process).toBe('SERVING');
    expect(result.health_unknown).toBe('NOT_FOUND');
    expect(result.services).toEqual([
      'grpc.health.v1.Health',
      'grpc.reflection.v1.ServerReflection',
      'grpc.reflection.v1alpha.ServerReflection',
      'runbox.v1.ContextService',
      'runbox.v1.FilesService',
      'runbox.v1.LifecycleService',
      'runbox.v1.ProcessService',
      'runbox.v1.ShellService',
      'runbox.v1.SystemService',
    ]);
    expect(result.reflected_files).toContain('runbox/v1/process.proto');
    expect(result.reflection_unknown_code).toBe(5); // NOT_FOUND
    const user = process.getuid?.() === 0 ? 'runbox' : os.userInfo().username;
    expect(result.exec_stdout).toBe(`hello from ${user}\n`);
    expect(result.exec_exit_code).toBe(0);
    expect(result.bad_language).toMatchObject({
      code: 'INVALID_ARGUMENT',
      reason: 'LANGUAGE_UNKNOWN',
      domain: 'runbox.dev',
      metadata: { language: 'cobol' },
    });
    expect(result.no_token).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'TOKEN_MISSING' });
  });
});
