// Runs one of Claim's constant host tools (perl, date): argv only, no shell, an empty
// environment (no PERL5OPT or PERL5LIB of whoever started the agent), bounded in time.
import { execFile } from 'node:child_process';

const TOOL_TIMEOUT_MS = 5_000;

/** Resolves when the tool exits 0; rejects with its stderr (or how it failed) otherwise. */
export function runTool(file: string, args: string[], input?: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, { env: {}, timeout: TOOL_TIMEOUT_MS, maxBuffer: 64 << 10 }, (error, _stdout, stderr) => {
      if (!error) resolve();
      else reject(new Error(String(stderr).trim() || error.message));
    });
    // A tool that dies before reading its stdin: the exit above says why, not the EPIPE.
    child.stdin?.on('error', () => {});
    child.stdin?.end(input);
  });
}
