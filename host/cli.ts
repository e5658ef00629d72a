#!/usr/bin/env node
// runbox CLI entry point: binds the real process to the dispatcher (host/cli/main.ts). The only
// place that sets process.exitCode; verbs return their exit code.
import { main } from './cli/main.js';
import { processIo } from './cli/io.js';

main(process.argv.slice(2), processIo()).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    // A verb's module failed to load, or a verb threw past runVerb: a bug.
    process.stderr.write(`runbox: internal error: ${(error as Error)?.stack ?? String(error)}\n`);
    process.exitCode = 125;
  },
);
