// What a CLI verb may touch of the process it runs in: its three streams, its environment and
// its signals. Verbs get a CliIo and use nothing else of `process`, so a test can run one with
// in-memory streams (test/helpers/cli-io.ts) and read what it wrote. host/cli.ts alone binds the
// real process (processIo()) and sets process.exitCode from the verb's result.
import type { Readable, Writable } from 'node:stream';

/** Our stdin: a Node stream, plus what a terminal adds (process.stdin is a tty.ReadStream then). */
export type CliInput = Readable & {
  /** True when stdin is a terminal. */
  isTTY?: boolean;
  /** Raw mode on a terminal (present only when isTTY). */
  setRawMode?(raw: boolean): unknown;
};

/** Our stdout or stderr: a Node stream, plus a terminal's size when it is one. */
export type CliOutput = Writable & {
  /** True when the stream is a terminal. */
  isTTY?: boolean;
  columns?: number;
  rows?: number;
};

/** The process events a verb may listen to: signals, and 'exit' (to restore a terminal). */
export type CliEvent = NodeJS.Signals | 'exit';

/** Subscribing to process events; process itself is one. */
export interface CliEvents {
  on(event: CliEvent, listener: (event: CliEvent) => void): unknown;
  once(event: CliEvent, listener: (event: CliEvent) => void): unknown;
  off(event: CliEvent, listener: (event: CliEvent) => void): unknown;
}

export interface CliIo {
  stdin: CliInput;
  stdout: CliOutput;
  stderr: CliOutput;
  /** The environment ($RUNBOX_TARGET, $RUNBOX_TOKEN_FILE, $TERM, $RUNBOX_HOME). */
  env: Record<string, string | undefined>;
  /** Signals (SIGINT, SIGTERM, SIGHUP, SIGWINCH) and 'exit'. */
  events: CliEvents;
}

/** The real process. process.stdin is created lazily by Node, so it is only touched when a verb reads it. */
export function processIo(): CliIo {
  return {
    get stdin(): CliInput {
      return process.stdin;
    },
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    events: {
      on: (event, listener) => process.on(event as NodeJS.Signals, listener as NodeJS.SignalsListener),
      once: (event, listener) => process.once(event as NodeJS.Signals, listener as NodeJS.SignalsListener),
      off: (event, listener) => process.off(event, listener as NodeJS.SignalsListener),
    },
  };
}
