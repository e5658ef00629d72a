// docs/agent.md's flag table lists exactly the flags the agent's usage text lists (USAGE in
// agent/core/config.ts, what `runbox-agent --help` prints), each with the same argument name.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { USAGE } from '../../agent/core/config.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DOC = 'docs/agent.md';

type Flag = { flag: string; argument: string };

/** USAGE's option lines: two spaces, `--flag [ARG]`, then the text (continuation lines are indented further). */
function usageFlags(usage: string): Flag[] {
  const options = usage.slice(usage.indexOf('\nOptions:'));
  return [...options.matchAll(/^ {2}(--[a-z][a-z-]*)(?: ([^ \n]+))?/gm)].map((m) => ({ flag: m[1]!, argument: m[2] ?? '' }));
}

/** The first column of the table under `## Flags`: `` `--flag [ARG]` `` (a `|` in ARG is escaped as `\|`). */
function docFlags(doc: string): Flag[] {
  const start = doc.indexOf('\n## Flags\n');
  const end = doc.indexOf('\n## ', start + 1);
  const section = doc.slice(start, end === -1 ? undefined : end);
  return [...section.matchAll(/^\| `(--[a-z][a-z-]*)(?: ([^`]+))?` \|/gm)].map((m) => ({
    flag: m[1]!,
    argument: (m[2] ?? '').replace(/\\\|/g, '|'),
  }));
}

describe(`${DOC} flag table`, () => {
  const documented = docFlags(readFileSync(path.join(REPO, DOC), 'utf8'));
  const usage = usageFlags(USAGE);

  it('both lists were found (the parsers still match the formats)', () => {
    expect(usage.map((f) => f.flag)).toContain('--listen');
    expect(usage.map((f) => f.flag)).toContain('--help');
    expect(documented.length).toBeGreaterThan(0);
  });

  it('lists exactly the flags of the usage text, each once', () => {
    const names = (flags: Flag[]) => flags.map((f) => f.flag).sort();
    expect(names(documented)).toEqual(names(usage));
    expect(new Set(names(documented)).size).toBe(documented.length);
  });

  it('gives each flag the argument name the usage text gives it', () => {
    const byFlag = (flags: Flag[]) => Object.fromEntries(flags.map((f) => [f.flag, f.argument]));
    expect(byFlag(documented)).toEqual(byFlag(usage));
  });
});
