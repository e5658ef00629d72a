// docs/errors.md's table of the SDK's own reasons lists exactly the reasons host/ code gives
// its errors (every `reason: 'X'` literal under host/), each once, with an error class that
// exists. The agent's reasons have their own table (test/integration/errors.test.ts).
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO } from '../helpers/agent.js';

const doc = readFileSync(path.join(REPO, 'docs/errors.md'), 'utf8');
/** Rows `| \`REASON\` | \`SomeError\` | ... |`: the second column names a class, unlike the agent table's gRPC codes. */
const rows = [...doc.matchAll(/^\| `([A-Z_]+)` \| `([A-Za-z]+Error)` \|/gm)].map((m) => ({ reason: m[1]!, cls: m[2]! }));

const hostReasons = new Set(
  readdirSync(path.join(REPO, 'host'), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .flatMap((f) => [...readFileSync(path.join(REPO, 'host', f), 'utf8').matchAll(/\breason: '([A-Z_]+)'/g)].map((m) => m[1]!)),
);

describe("docs/errors.md: the SDK's reasons", () => {
  it('lists every reason host/ code gives, and no other, once each', () => {
    expect(hostReasons.size).toBeGreaterThan(30);
    expect(rows.map((r) => r.reason).sort()).toEqual([...hostReasons].sort());
  });

  it('names classes that exist', () => {
    const sources = readdirSync(path.join(REPO, 'host'), { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.ts'))
      .map((f) => readFileSync(path.join(REPO, 'host', f), 'utf8'))
      .join('\n');
    for (const { reason, cls } of rows) expect(sources, `${reason}: ${cls}`).toMatch(new RegExp(`\\bclass ${cls}\\b`));
  });
});
