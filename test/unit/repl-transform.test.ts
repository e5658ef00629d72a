// REPL semantics of JavaScript cells (agent/context/driver/repl-transform.ts), checked by what
// the rewritten cell does when run the way the driver runs it: prelude and body as scripts in one
// context, the body's completion value (awaited when async) as the cell's value.
import { describe, expect, it } from 'vitest';
import { Script, createContext, type Context } from 'node:vm';
import { toReplScript } from '../../agent/context/driver/repl-transform.js';

async function runCells(cells: string[]): Promise<unknown[]> {
  const context: Context = createContext({});
  const values: unknown[] = [];
  for (const code of cells) {
    const repl = toReplScript(code);
    if (repl?.prelude) new Script(repl.prelude).runInContext(context);
    const value: unknown = new Script(repl?.body ?? code).runInContext(context);
    values.push(repl?.async ? await value : value);
  }
  return values;
}

describe('toReplScript', () => {
  it.each<[string, string[], unknown[]]>([
    ['a let lives on in later cells', ['let x = 2', 'x * 21'], [undefined, 42]],
    ['a let may be declared again', ['let x = 1', 'let x = 2; x'], [undefined, 2]],
    ['const and class too', ['const c = 1', 'const c = 2; class K {}; class K2 extends K {}; c'], [undefined, 2]],
    [
      'destructuring binds every name',
      ['const { a, b: [c, ...d] = [] } = { a: 1, b: [2, 3, 4] }', '[a, c, d]'],
      [undefined, [1, 2, [3, 4]]],
    ],
    ['let without a value resets the name', ['let y = 5', 'let y; y'], [undefined, undefined]],
    ['a var keeps its value when declared again without one', ['var v = 5', 'var v; v'], [undefined, 5]],
    ['top-level await gives the last expression', ['await Promise.resolve(6) * 7'], [42]],
    ['declarations of an async cell outlive it', ['const z = await Promise.resolve(3)', 'z + 1'], [undefined, 4]],
    ['function declarations of an async cell are exported and hoisted', ['g(); function g() { return 9 }; await 0', 'g()'], [0, 9]],
    ['for await at the top level', ['let s = 0; for await (const n of [1, 2]) s += n; s'], [3]],
    ['an await inside a function does not make the cell async', ['async function h() { await 0; return 1 }; 5'], [5]],
    ['a class declared in an async cell', ['class A { v() { return 1 } }; await 0; new A().v()'], [1]],
    ['a cell ending in a comment', ['let q = 1 // set q', 'q'], [undefined, 1]],
  ])('%s', async (_name, cells, values) => {
    expect(await runCells(cells)).toEqual(values);
  });

  it('leaves a plain cell alone (exact V8 semantics) and a cell that does not parse to V8', () => {
    expect(toReplScript('1 + 1')).toBeUndefined();
    expect(toReplScript('function f() {}; f()')).toBeUndefined();
    expect(toReplScript('let = ;')).toBeUndefined();
  });

  it('keeps line numbers: a rewrite never adds or removes a line before the last', () => {
    const code = 'let a = 1\nconst b = await 2\nthrow new Error("line 3")';
    const repl = toReplScript(code)!;
    expect(
      repl.body
        .split('\n')
        .slice(0, 3)
        .map((l) => l.includes('line 3')),
    ).toEqual([false, false, true]);
  });
});
