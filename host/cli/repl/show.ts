// How the REPL shows what a cell produced on a terminal: results as their text form (the main
// one as Out[n]), images written to files whose path is printed, the error's traceback, and a
// line when runbox itself ended the cell (timeout, dead context). Text the interpreter made is
// the program's own output and passes as it is; runbox's own words are escaped (printable.ts).
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ContextResult, Execution, ExecutionError } from '../../context/types.js';
import type { CliIo } from '../io.js';
import { printable } from '../printable.js';

const IMAGES: Record<string, string> = { 'image/png': 'png', 'image/jpeg': 'jpg', 'image/svg+xml': 'svg', 'image/gif': 'gif' };

/** Width x height of a PNG from its IHDR chunk, or '' when it is not one. */
export function pngSize(bytes: Uint8Array): string {
  const signature = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (bytes.length < 24 || signature.some((b, i) => bytes[i] !== b)) return '';
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return `${view.getUint32(16)}x${view.getUint32(20)}`;
}

export class ResultPrinter {
  #saved = 0;

  constructor(
    private readonly io: CliIo,
    /** Where images go; made on first use. */
    private readonly saveDir: string,
  ) {}

  /** Saves a result's images; returns one line per file written. */
  #saveImages(result: ContextResult, cell: number): string[] {
    const lines: string[] = [];
    for (const [mime, extension] of Object.entries(IMAGES)) {
      const data = result.data[mime];
      if (data === undefined) continue;
      mkdirSync(this.saveDir, { recursive: true, mode: 0o700 });
      const file = path.join(this.saveDir, `cell-${cell}-${++this.#saved}.${extension}`);
      writeFileSync(file, data);
      const size = typeof data === 'string' ? '' : pngSize(data);
      lines.push(`[${mime}${size ? ` ${size}` : ''} saved to ${file}]`);
    }
    return lines;
  }

  /** One result as it arrives. `cell` numbers the files; the main result waits for its Out[n]. */
  result(result: ContextResult, cell: number): void {
    for (const line of this.#saveImages(result, cell)) this.io.stdout.write(`${printable(line)}\n`);
    if (!result.isMain && result.text) this.io.stdout.write(`${result.text}\n`);
  }

  error(error: ExecutionError): void {
    this.io.stderr.write(`${error.traceback || `${error.name}: ${error.value}`}\n`);
  }

  /** After the cell: the main result as Out[n], and what runbox has to say about the cell. */
  finished(execution: Execution): void {
    const main = execution.results.find((r) => r.isMain);
    if (main?.text) this.io.stdout.write(`Out[${execution.executionCount}]: ${main.text}\n`);
    if (
      execution.status === 'timed_out' ||
      execution.status === 'context_died' ||
      execution.stdoutTruncated ||
      execution.resultsTruncated
    ) {
      if (execution.message) this.io.stderr.write(`runbox: ${printable(execution.message)}\n`);
    }
  }
}
