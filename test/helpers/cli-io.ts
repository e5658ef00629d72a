// An in-memory CliIo (host/cli/io.ts) for running CLI verbs inside the test process: stdout and
// stderr are collected, stdin is the given bytes (then EOF), env is only what the test passes,
// and signals are an EventEmitter the test can emit on.
import { EventEmitter } from 'node:events';
import { PassThrough, Readable, Writable } from 'node:stream';
import { expect } from 'vitest';
import type { CliEvents, CliIo } from '../../host/cli/io.js';
import type { Command } from '../../host/cli/command.js';
import { UsageError } from '../../host/cli/exit.js';

export interface MemoryIo extends CliIo {
  /** Everything written to stdout so far, as UTF-8. */
  out(): string;
  /** Everything written to stderr so far, as UTF-8. */
  err(): string;
  /** Emits a process event (a signal) to the verb's listeners. */
  emit(event: NodeJS.Signals | 'exit'): void;
}

function collector(): { stream: Writable; text: () => string } {
  const chunks: Buffer[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
      done();
    },
  });
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}

export function memoryIo(options: { stdin?: string | Buffer; env?: Record<string, string | undefined> } = {}): MemoryIo {
  const stdout = collector();
  const stderr = collector();
  const stdin = options.stdin === undefined ? new PassThrough().end() : Readable.from([Buffer.from(options.stdin)]);
  const emitter = new EventEmitter();
  const events: CliEvents = {
    on: (event, listener) => emitter.on(event, listener),
    once: (event, listener) => emitter.once(event, listener),
    off: (event, listener) => emitter.off(event, listener),
  };
  return {
    stdin,
    stdout: stdout.stream,
    stderr: stderr.stream,
    env: { ...options.env },
    events,
    out: stdout.text,
    err: stderr.text,
    emit: (event) => void emitter.emit(event, event),
  };
}

/** The message of the UsageError a subcommand's parse throws for `argv`; fails the test if it parses. */
export function usageError(command: Command<unknown>, argv: string[]): string {
  try {
    command.parse(argv);
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return (error as Error).message;
  }
  throw new Error(`${command.name} ${argv.join(' ')} was accepted`);
}
