// The agent's side of the driver protocol (docs/contexts.md): JSON-line commands to the
// driver on its fd 3, JSON-line events from it on its fd 4. Everything on fd 4 is written by a
// process that runs user code, so it is untrusted input: lines are bounded (a line over the
// bound is skipped up to its newline and reported, never held), and every event is checked
// for shape before the agent acts on it.

/** One representation of a result as the driver sends it. */
export type WireValue = { text: string } | { b64: string } | { json: unknown };

export type DriverEvent =
  | { ev: 'ready'; version: string }
  | { ev: 'fatal'; message: string }
  | { ev: 'display'; seq: number; main: boolean; data: Record<string, WireValue> }
  | { ev: 'error'; seq: number; name: string; value: string; traceback: string }
  | { ev: 'done'; seq: number; status: 'ok' | 'error'; count: number }
  | { ev: 'reseeded' };

export type DriverCommand = { op: 'execute'; seq: number; code: string; marker: string } | { op: 'reseed' };

export function encodeCommand(command: DriverCommand): string {
  return `${JSON.stringify(command)}\n`;
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const isCount = (value: unknown): value is number => typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;

function wireValue(value: unknown): WireValue | undefined {
  if (!isRecord(value)) return undefined;
  if (typeof value.text === 'string') return { text: value.text };
  if (typeof value.b64 === 'string') return { b64: value.b64 };
  if ('json' in value) return { json: value.json };
  return undefined;
}

function mimeData(value: unknown): Record<string, WireValue> | undefined {
  if (!isRecord(value)) return undefined;
  const data: Record<string, WireValue> = {};
  for (const [mime, entry] of Object.entries(value)) {
    const checked = wireValue(entry);
    if (!checked || mime.length === 0 || mime.length > 255) return undefined;
    data[mime] = checked;
  }
  return data;
}

/** The event a line holds, or a description of what is wrong with it. */
export function parseEvent(line: string): DriverEvent | { invalid: string } {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { invalid: 'not JSON' };
  }
  if (!isRecord(value)) return { invalid: 'not an object' };
  const str = (key: string) => (typeof value[key] === 'string' ? value[key] : undefined);
  switch (value.ev) {
    case 'ready':
      return { ev: 'ready', version: str('version') ?? '' };
    case 'fatal':
      return { ev: 'fatal', message: str('message') ?? '' };
    case 'reseeded':
      return { ev: 'reseeded' };
    case 'display': {
      const data = mimeData(value.data);
      if (!isCount(value.seq) || !data) return { invalid: 'a display event without seq or data' };
      return { ev: 'display', seq: value.seq, main: value.main === true, data };
    }
    case 'error':
      if (!isCount(value.seq)) return { invalid: 'an error event without seq' };
      return { ev: 'error', seq: value.seq, name: str('name') ?? '', value: str('value') ?? '', traceback: str('traceback') ?? '' };
    case 'done':
      if (!isCount(value.seq) || !isCount(value.count)) return { invalid: 'a done event without seq or count' };
      return { ev: 'done', seq: value.seq, status: value.status === 'ok' ? 'ok' : 'error', count: value.count };
    default:
      return { invalid: `unknown event ${JSON.stringify(String(value.ev)).slice(0, 40)}` };
  }
}

/**
 * Splits fd 4's bytes into lines of at most `limit()` bytes. A longer line is skipped up to
 * its newline (its bytes are never held) and reported through `onOverflow` with its size.
 */
export class LineReader {
  #parts: Buffer[] = [];
  #held = 0;
  #skipping = 0;

  constructor(
    private readonly limit: () => number,
    private readonly onLine: (line: string) => void,
    private readonly onOverflow: (bytes: number) => void,
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    for (let newline = chunk.indexOf(10, start); ; newline = chunk.indexOf(10, start)) {
      const end = newline < 0 ? chunk.length : newline;
      this.#take(chunk.subarray(start, end));
      if (newline < 0) return;
      this.#finishLine();
      start = newline + 1;
    }
  }

  #take(piece: Buffer): void {
    if (piece.length === 0) return;
    if (this.#skipping > 0 || this.#held + piece.length > this.limit()) {
      this.#skipping += this.#held + piece.length;
      this.#parts = [];
      this.#held = 0;
      return;
    }
    this.#parts.push(piece);
    this.#held += piece.length;
  }

  #finishLine(): void {
    if (this.#skipping > 0) {
      const bytes = this.#skipping;
      this.#skipping = 0;
      this.onOverflow(bytes);
      return;
    }
    const line = Buffer.concat(this.#parts, this.#held).toString('utf8');
    this.#parts = [];
    this.#held = 0;
    if (line.length > 0) this.onLine(line);
  }
}
