// JavaScript code contexts against the built agent: a Node driver process per context with REPL
// semantics (top-level await, declarations that live on and may be declared again).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CodeContext } from '../../host/index.js';
import { useAgent } from '../helpers/agent.js';
import { eventually } from '../helpers/shell.js';

const f = useAgent();

describe('a javascript context', () => {
  let ctx: CodeContext;
  beforeAll(async () => {
    ctx = await f.sb.contexts.create('javascript');
  });
  afterAll(async () => {
    await ctx.close();
  });

  it('let x = 2, then x * 21 gives 42; top-level await works; a let may be declared again', async () => {
    expect(ctx.version).toMatch(/^Node\.js v\d+/);
    expect((await ctx.run('let x = 2')).text).toBeUndefined();
    const e = await ctx.run('x * 21');
    expect(e).toMatchObject({ status: 'ok', text: '42' });
    expect(e.results[0]!.isMain).toBe(true);
    expect((await ctx.run('const later = await new Promise((r) => setTimeout(() => r(x + 1), 50)); later')).text).toBe('3');
    expect((await ctx.run('later * 2')).text).toBe('6');
    expect((await ctx.run('let x = 10; x')).text).toBe('10');
  });

  it('has require, process and the rest of Node, relative to its cwd', async () => {
    const e = await ctx.run('require("node:path").join(process.cwd(), "a")');
    expect(e.text).toBe(`'${ctx.cwd}/a'`);
  });

  it('gives plain data as application/json too, and display() results in order', async () => {
    const e = await ctx.run('display({ "text/html": "<i>1</i>" }, { raw: true }); display([1, 2]); ({ a: { b: [1] } })');
    expect(e.results.map((r) => [r.isMain, r.html ?? r.json])).toEqual([
      [false, '<i>1</i>'],
      [false, [1, 2]],
      [true, { a: { b: [1] } }],
    ]);
    expect(e.results[2]!.text).toBe('{ a: { b: [ 1 ] } }');
    const png = await ctx.run('display({ "image/png": Buffer.from([0x89, 0x50, 0x4e, 0x47]) }, { raw: true })');
    expect([...png.results[0]!.png!]).toEqual([0x89, 0x50, 0x4e, 0x47]);
  });

  it('streams console output and reports a throw as data; the context lives on', async () => {
    const e = await ctx.run('console.log("out"); console.error("err"); null.x');
    expect(e.status).toBe('error');
    expect(e.stdout).toBe('out\n');
    expect(e.stderr).toBe('err\n');
    expect(e.error?.name).toBe('TypeError');
    expect(e.error?.traceback).toContain('cell-');
    expect((await ctx.run('x')).text).toBe('10');
  });

  it('interrupts a busy loop at timeoutMs and a never-settling await on interrupt(); state survives', async () => {
    const loop = await ctx.run('for (;;) {}', { timeoutMs: 1_000 });
    expect(loop.status).toBe('timed_out');
    expect(loop.error?.name).toBe('Interrupted');
    const waiting = ctx.run('await new Promise(() => {})');
    await eventually(async () => (await ctx.info()).state === 'busy', 'the cell to run');
    expect(await ctx.interrupt()).toBe(true);
    expect((await waiting).status).toBe('interrupted');
    expect((await ctx.run('x + 1')).text).toBe('11');
  });

  it('a callback that throws after its cell writes to stderr and does not end the context', async () => {
    await ctx.run('setTimeout(() => { throw new Error("later") }, 50); 1');
    await new Promise((r) => setTimeout(r, 500));
    const e = await ctx.run('2');
    expect(e.stderr).toContain('Uncaught Error: later');
    expect(e.text).toBe('2');
  });

  it('process.exit ends the context: reported dead with its code, and restartable', async () => {
    const other = await f.sb.contexts.create('javascript');
    try {
      const e = await other.run('process.exit(4)');
      expect(e.status).toBe('context_died');
      expect(e.death?.exitCode).toBe(4);
      await other.restart();
      expect((await other.run('typeof x')).text).toBe("'undefined'");
    } finally {
      await other.close();
    }
  });
});
