// The rule of docs/architecture.md that the host knows the agent only through the contract:
// no file under host/ or proto/ imports anything under agent/ (static import or export, or a
// dynamic import()). Read from the source tree, every .ts file.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO } from '../helpers/agent.js';

/** Every .ts file under `dir` (relative to the repository). */
function tsFiles(dir: string): string[] {
  return readdirSync(path.join(REPO, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => path.join(dir, f));
}

/** The module specifiers a file imports or re-exports, dynamic imports included. */
function specifiers(source: string): string[] {
  const found: string[] = [];
  for (const m of source.matchAll(
    /\b(?:import|export)\s[^'"]*?\bfrom\s*['"]([^'"]+)['"]|\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)|\bimport\s+['"]([^'"]+)['"]/g,
  ))
    found.push((m[1] ?? m[2] ?? m[3])!);
  return found;
}

describe('host/ and proto/ never import agent/', () => {
  it('the specifier scan sees every form of import', () => {
    expect(
      specifiers(
        [
          "import { a } from '../agent/x.js';",
          "import type { B } from '../../agent/y.js';",
          "export { c } from './c.js';",
          "export * from '../d.js';",
          "const e = await import('../agent/e.js');",
          "import '../agent/side-effect.js';",
          "import {\n  f,\n  g,\n} from '../agent/multi.js';",
        ].join('\n'),
      ),
    ).toEqual(['../agent/x.js', '../../agent/y.js', './c.js', '../d.js', '../agent/e.js', '../agent/side-effect.js', '../agent/multi.js']);
  });

  const files = [...tsFiles('host'), ...tsFiles('proto')];
  it('finds the files', () => {
    expect(files.length).toBeGreaterThan(100);
  });

  it('no file imports from agent/', () => {
    const agentRoot = path.join(REPO, 'agent') + path.sep;
    const offending = files.flatMap((file) =>
      specifiers(readFileSync(path.join(REPO, file), 'utf8'))
        .filter((s) => s.startsWith('.') && path.resolve(REPO, path.dirname(file), s).startsWith(agentRoot))
        .map((s) => `${file}: ${s}`),
    );
    expect(offending).toEqual([]);
  });
});
