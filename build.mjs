// Builds dist/: the agent as ONE CommonJS file (+ node-pty's native binary beside it) for
// the images' Node 18, and the host SDK + CLI as ESM with type declarations.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
const { version } = JSON.parse(readFileSync('package.json', 'utf8'));
const agentDir = 'dist/agent';

// node-pty looks for pty.node under build/Release or prebuilds/ relative to itself; in the
// bundle it lives right beside runbox-agent.js, so its loader is swapped for one that says so.
const ptyBesideBundle = {
  name: 'pty-beside-bundle',
  setup(b) {
    b.onLoad({ filter: /node-pty[\\/]lib[\\/]utils\.js$/ }, () => ({
      loader: 'js',
      contents: `
        exports.assign = function (target, ...sources) {
          sources.forEach((s) => Object.keys(s).forEach((k) => (target[k] = s[k])));
          return target;
        };
        exports.loadNativeModule = function (name) {
          const dir = __dirname + '/';
          return { dir, module: require(dir + name + '.node') };
        };`,
    }));
  },
};

// SystemInfo's module (systeminformation: a third of the agent's code) is its own file beside
// the bundle, required on first use: V8 parses every byte of the bundle at each start, used or
// not (~5 MB of RSS and a tenth of its start here, far more under emulation).
const sysinfoBesideBundle = {
  name: 'sysinfo-beside-bundle',
  setup(b) {
    b.onResolve({ filter: /^\.\/sysinfo\.js$/ }, (args) =>
      args.importer.endsWith(path.join('agent', 'system', 'service.ts')) ? { path: './sysinfo.js', external: true } : undefined,
    );
  },
};

function kib(file) {
  return `${(statSync(file).size / 1024).toFixed(0)} KiB`;
}

// Both guest programs: one CommonJS file each for the images' Node 18, minified (half the
// bytes for Node to parse at every boot, seconds under emulation).
const guestBundle = {
  bundle: true,
  platform: 'node',
  target: 'node18',
  format: 'cjs',
  minify: true,
  legalComments: 'none',
  logLevel: 'warning',
};

async function buildAgent() {
  rmSync(agentDir, { recursive: true, force: true });
  mkdirSync(agentDir, { recursive: true });
  await build({
    ...guestBundle,
    entryPoints: ['agent/main.ts'],
    outfile: `${agentDir}/runbox-agent.js`,
    banner: { js: '#!/usr/bin/env node' },
    define: { RUNBOX_VERSION: JSON.stringify(version) },
    plugins: [ptyBesideBundle, sysinfoBesideBundle],
    // grpc-js loads it only to build the channelz and ORCA services from .proto files in its own
    // package directory, which a bundle does not have: dead code the agent never calls.
    external: ['@grpc/proto-loader'],
  });
  await build({ ...guestBundle, entryPoints: ['agent/system/sysinfo.ts'], outfile: `${agentDir}/sysinfo.js` });
  // The file worker runs as the user in its own process; the agent starts it from this file.
  await build({ ...guestBundle, entryPoints: ['agent/files/worker/main.ts'], outfile: `${agentDir}/file-worker.js` });
  // Code context drivers, fed to their interpreter on stdin (agent/context/driver.ts). The
  // JavaScript one runs at global scope (`node -`): an IIFE, so none of its names become globals.
  await build({
    ...guestBundle,
    format: 'iife',
    entryPoints: ['agent/context/driver/javascript.ts'],
    outfile: `${agentDir}/context-javascript.js`,
  });
  copyFileSync('agent/context/driver/python.py', `${agentDir}/context-python.py`);
  const ptyNative = path.join(path.dirname(require.resolve('node-pty/package.json')), 'build/Release/pty.node');
  copyFileSync(ptyNative, `${agentDir}/pty.node`);
  // The repo's package.json says "type": "module"; this marker keeps the CJS bundle CJS when run from dist/.
  writeFileSync(`${agentDir}/package.json`, '{"type":"commonjs"}\n');
  console.log(
    `agent: ${agentDir}/runbox-agent.js ${kib(`${agentDir}/runbox-agent.js`)}, file-worker.js ${kib(`${agentDir}/file-worker.js`)}, pty.node ${kib(`${agentDir}/pty.node`)}`,
  );
}

async function buildHost() {
  rmSync('dist/host', { recursive: true, force: true });
  await build({
    entryPoints: { index: 'host/index.ts', vm: 'host/vm-api.ts' },
    outdir: 'dist/host',
    bundle: true,
    splitting: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    packages: 'external',
    define: { RUNBOX_VERSION: JSON.stringify(version) },
    logLevel: 'warning',
  });
  await buildCli();
  chmodSync('dist/host/cli.js', 0o755);
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
  console.log(`host: dist/host/index.js ${kib('dist/host/index.js')}, dist/host/cli.js ${kib('dist/host/cli.js')}`);
}

// The runbox command: host/cli.ts with every dependency in one CommonJS file (one file to
// read and compile instead of grpc-js's and protobuf-es's hundred-odd modules), run by the
// loader (host/cli-loader.ts, dist/host/cli.js) through a per-user V8 code cache. Verbs stay
// lazy: esbuild initialises a dynamically imported module when it is first imported.
async function buildCli() {
  await build({
    entryPoints: ['host/cli.ts'],
    outfile: 'dist/host/cli-bundle.cjs',
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    minify: true,
    // ws's optional native helpers; the web terminal's assets are read from node_modules.
    external: ['bufferutil', 'utf-8-validate'],
    // import.meta is ESM's: the bundle's modules (repoRoot, the web assets) get its URL.
    define: { RUNBOX_VERSION: JSON.stringify(version), 'import.meta.url': 'runboxBundleUrl' },
    banner: { js: "'use strict'; const runboxBundleUrl = require('node:url').pathToFileURL(__filename).href;" },
    logLevel: 'warning',
  });
  await build({
    entryPoints: { cli: 'host/cli-loader.ts' },
    outdir: 'dist/host',
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    logLevel: 'warning',
  });
}

const only = process.argv[2];
if (only !== 'host') await buildAgent();
if (only !== 'agent') await buildHost();
