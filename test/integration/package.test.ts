// The published package: the SDK and CLI import only the package's runtime dependencies, and
// `npm install` of the packed tarball builds no native addon (node-pty and systeminformation
// are bundled into the agent, not installed for hosts) and can talk to a real agent.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { builtinModules } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { build } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO, useAgent } from '../helpers/agent.js';

const pkg = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  exports: Record<string, { default: string }>;
};

/** The package a bare specifier names: "@grpc/grpc-js/build/x" -> "@grpc/grpc-js". */
const packageOf = (specifier: string) =>
  specifier
    .split('/')
    .slice(0, specifier.startsWith('@') ? 2 : 1)
    .join('/');
const builtin = (specifier: string) => specifier.startsWith('node:') || builtinModules.includes(specifier.split('/')[0]!);

describe('the runbox package', () => {
  it('host code (SDK, runbox/vm, CLI) imports nothing but builtins and runtime dependencies', async () => {
    const result = await build({
      entryPoints: ['host/index.ts', 'host/vm-api.ts', 'host/cli.ts'].map((f) => path.join(REPO, f)),
      bundle: true,
      write: false,
      outdir: 'out',
      platform: 'node',
      format: 'esm',
      splitting: true,
      packages: 'external',
      metafile: true,
      define: { RUNBOX_VERSION: '"test"' },
      logLevel: 'silent',
    });
    const external = new Set<string>();
    for (const output of Object.values(result.metafile.outputs)) {
      for (const imported of output.imports) if (imported.external && !builtin(imported.path)) external.add(packageOf(imported.path));
    }
    expect([...external].sort()).toEqual(expect.arrayContaining(['@bufbuild/protobuf', '@grpc/grpc-js']));
    for (const name of external) expect(pkg.dependencies, `${name} is imported by host code`).toHaveProperty([name]);
    expect(external.has('node-pty')).toBe(false);
    expect(external.has('systeminformation')).toBe(false);
    expect(pkg.devDependencies).toHaveProperty(['node-pty']);
    expect(pkg.devDependencies).toHaveProperty(['systeminformation']);
  });

  describe('installed from its tarball', () => {
    const fixture = useAgent();
    const dir = mkdtempSync(path.join(os.tmpdir(), 'runbox-pack-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('installs without node-pty and connects to an agent', { timeout: 180_000 }, () => {
      const tarball = execFileSync('npm', ['pack', '--silent', '--pack-destination', dir], { cwd: REPO, encoding: 'utf8' })
        .trim()
        .split('\n')
        .at(-1)!;
      writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
      execFileSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', path.join(dir, tarball)], { cwd: dir, stdio: 'pipe' });
      expect(existsSync(path.join(dir, 'node_modules/runbox/dist/host/index.js'))).toBe(true);
      expect(existsSync(path.join(dir, 'node_modules/node-pty'))).toBe(false);
      expect(existsSync(path.join(dir, 'node_modules/systeminformation'))).toBe(false);
      const script = `import { Sandbox } from 'runbox'; import { bootVm } from 'runbox/vm';
        const sb = await Sandbox.connect(process.argv[1]); await sb.waitReady({ timeoutMs: 10000 });
        const r = await sb.exec(['echo', 'from the packed SDK']); await sb.close();
        console.log(JSON.stringify({ stdout: r.stdout, bootVm: typeof bootVm }));`;
      const out = execFileSync(process.execPath, ['--input-type=module', '-e', script, fixture.agent.unixTarget], {
        cwd: dir,
        encoding: 'utf8',
      });
      expect(JSON.parse(out)).toEqual({ stdout: 'from the packed SDK\n', bootVm: 'function' });
    });
  });
});
