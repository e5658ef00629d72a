#!/usr/bin/env node
// The runbox command as installed (dist/host/cli.js): runs the bundled CLI (cli-bundle.cjs,
// host/cli.ts with every dependency in one file) through a V8 code cache kept per user, so a
// command does not parse and compile the same half megabyte again on every start (the compile
// was ~45 ms of a ~170 ms `runbox run`). Imports only builtins and code-cache.ts: it is its own
// small bundle.
//
// The cache and why it is safe to run: host/cli/code-cache.ts.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';
import { cacheFile, readCache, writeCache } from './cli/code-cache.js';

const bundle = path.join(path.dirname(fileURLToPath(import.meta.url)), 'cli-bundle.cjs');

const file = cacheFile(process.env, process.argv[2]);
const cachedData = file ? readCache(file) : undefined;
// The bundle keeps host/cli.ts's #! line, which is no JavaScript inside a function.
const source = readFileSync(bundle, 'utf8').replace(/^#!.*/, '');
const wrapper = `(function (exports, require, module, __filename, __dirname) {${source}\n})`;
const script = new vm.Script(wrapper, { filename: bundle, cachedData });
if (file && (cachedData === undefined || script.cachedDataRejected)) {
  // After the command ran: the cache then holds the functions it compiled on the way. Not for
  // a usage error (exit 2): an unknown verb would otherwise leave a file of its own.
  process.once('exit', (code) => code !== 2 && writeCache(file, script.createCachedData()));
}
const module = { exports: {} };
const run = script.runInThisContext() as (...args: unknown[]) => void;
run(module.exports, createRequire(bundle), module, bundle, path.dirname(bundle));
