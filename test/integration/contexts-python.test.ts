// Python code contexts against the built agent: IPython does the cell semantics in a driver
// process running as the sandbox user; pandas and matplotlib are this host's (init/setup-host.sh).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AbortError,
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
  type CodeContext,
  type ContextResult,
} from '../../host/index.js';
import { useAgent } from '../helpers/agent.js';
import { eventually } from '../helpers/shell.js';

const f = useAgent();

/** Checks PNG's signature and reads IHDR's width and height. */
function pngDimensions(bytes: Uint8Array | undefined): { width: number; height: number } {
  expect(bytes, 'an image/png result').toBeDefined();
  expect([...bytes!.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  expect(Buffer.from(bytes!.subarray(12, 16)).toString('latin1')).toBe('IHDR');
  const view = new DataView(bytes!.buffer, bytes!.byteOffset, bytes!.byteLength);
  return { width: view.getUint32(16), height: view.getUint32(20) };
}

describe('a python context', () => {
  let ctx: CodeContext;
  beforeAll(async () => {
    ctx = await f.sb.contexts.create('python');
  });
  afterAll(async () => {
    await ctx.close();
  });

  it('keeps variables and imports from one cell to the next; the last expression is the main result', async () => {
    expect(ctx.version).toMatch(/^IPython \d+\.\d+\.\d+, Python 3\.\d+/);
    const first = await ctx.run('x = 21\nimport math');
    expect(first).toMatchObject({ status: 'ok', results: [], text: undefined });
    const second = await ctx.run('math.sqrt(16) + x * 2');
    expect(second.status).toBe('ok');
    expect(second.text).toBe('46.0');
    expect(second.results).toHaveLength(1);
    expect(second.results[0]).toMatchObject({ isMain: true, text: '46.0' });
    expect(second.executionCount).toBe(first.executionCount + 1);
  });

  it('returns display() results in order, then the main result, and streams them to onResult', async () => {
    const seen: ContextResult[] = [];
    const e = await ctx.run(
      'from IPython.display import display, HTML, Markdown, JSON\ndisplay(HTML("<b>1</b>"))\ndisplay(Markdown("# 2"))\ndisplay(JSON({"a": [1, 2]}))\n3',
      { onResult: (r) => seen.push(r) },
    );
    expect(e.results.map((r) => [r.isMain, r.html ?? r.markdown ?? r.json ?? r.text])).toEqual([
      [false, '<b>1</b>'],
      [false, '# 2'],
      [false, { a: [1, 2] }],
      [true, '3'],
    ]);
    expect(seen).toEqual(e.results);
  });

  it('captures output of the cell, its child processes and C code, and streams it', async () => {
    const chunks: string[] = [];
    const e = await ctx.run(
      'import subprocess, sys, ctypes\nprint("from python")\nsubprocess.run(["echo", "from a child"])\nctypes.CDLL(None).printf(b"from C\\n")\nprint("to stderr", file=sys.stderr)',
      { onStdout: (text) => chunks.push(text) },
    );
    expect(e.status).toBe('ok');
    expect(e.stdout).toBe('from python\nfrom a child\nfrom C\n');
    expect(chunks.join('')).toBe(e.stdout);
    expect(e.stderr).toBe('to stderr\n');
  });

  it('reports an exception as data; the context lives on with its state', async () => {
    const errors: string[] = [];
    const e = await ctx.run('def f():\n    return 1 / 0\nf()', { onError: (error) => errors.push(error.name) });
    expect(e.status).toBe('error');
    expect(e.error).toMatchObject({ name: 'ZeroDivisionError', value: 'division by zero' });
    expect(e.error!.traceback).toContain('1 / 0');
    expect(e.error!.traceback).not.toContain('\u001b['); // no terminal colours
    expect(errors).toEqual(['ZeroDivisionError']);
    expect((await ctx.run('x')).text).toBe('21');
    const syntax = await ctx.run('def (:');
    expect(syntax.error?.name).toBe('SyntaxError');
  });

  it('interrupts a cell past timeoutMs with KeyboardInterrupt; earlier state survives', async () => {
    const e = await ctx.run('while True:\n    pass', { timeoutMs: 1_000 });
    expect(e.status).toBe('timed_out');
    expect(e.error?.name).toBe('KeyboardInterrupt');
    expect(e.message).toContain('timeout_ms');
    expect((await ctx.run('x + 1')).text).toBe('22');
  });

  it('an aborted signal interrupts the cell and rejects with AbortError; ctx.interrupt() ends a cell as interrupted', async () => {
    const controller = new AbortController();
    const running = ctx.run('import time\ntime.sleep(60)', { signal: controller.signal });
    await eventually(async () => (await ctx.info()).state === 'busy', 'the cell to run');
    controller.abort();
    await expect(running).rejects.toBeInstanceOf(AbortError);
    await eventually(async () => (await ctx.info()).state === 'idle', 'the context to be idle again');

    const second = ctx.run('time.sleep(60)');
    await eventually(async () => (await ctx.info()).state === 'busy', 'the cell to run');
    expect(await ctx.interrupt()).toBe(true);
    const e = await second;
    expect(e.status).toBe('interrupted');
    expect(e.error?.name).toBe('KeyboardInterrupt');
    expect(await ctx.interrupt()).toBe(false);
    expect((await ctx.run('x')).text).toBe('21');
  });

  it('refuses a second cell while one runs (CONTEXT_BUSY)', async () => {
    const first = ctx.run('time.sleep(1)');
    await eventually(async () => (await ctx.info()).state === 'busy', 'the first cell to run');
    const error = await ctx.run('1').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FailedPreconditionError);
    expect((error as FailedPreconditionError).reason).toBe('CONTEXT_BUSY');
    expect((await first).status).toBe('ok');
  });

  it('returns a pandas DataFrame as an HTML table and a matplotlib chart as a PNG', async () => {
    const table = await ctx.run('import pandas as pd; df = pd.DataFrame({"a": [1, 2]}); df');
    expect(table.status).toBe('ok');
    expect(table.results[0]!.isMain).toBe(true);
    expect(table.results[0]!.html).toMatch(/<table[^>]*class="dataframe"/);
    expect(table.text).toContain('a');

    const shown = await ctx.run('import matplotlib.pyplot as plt\nplt.plot([1, 3, 2])\nplt.show()');
    expect(shown.status).toBe('ok');
    const image = shown.results.find((r) => r.png);
    const { width, height } = pngDimensions(image?.png);
    expect(width).toBeGreaterThan(100);
    expect(height).toBeGreaterThan(100);

    const figure = await ctx.run('fig, ax = plt.subplots(); ax.bar([1, 2], [3, 4]); fig');
    const main = figure.results.find((r) => r.isMain);
    expect(pngDimensions(main?.png).width).toBeGreaterThan(100);
  });

  it('caps output and results at the limits asked for, and says so', async () => {
    const loud = await ctx.run('print("x" * 5000)', { outputLimitBytes: 1000 });
    expect(loud.stdout).toHaveLength(1000);
    expect(loud.stdoutTruncated).toBe(true);
    expect(loud.stdoutTotalBytes).toBe(5001);
    expect(loud.message).toContain('output_limit_bytes');

    const big = await ctx.run('"y" * 100_000', { resultLimitBytes: 5000 });
    expect(big.resultsTruncated).toBe(true);
    expect(big.results[0]!.truncated).toBe(true);
    expect(big.results[0]!.text.length).toBeLessThanOrEqual(1024);
    expect(big.message).toContain('result_limit_bytes');
  });

  it('delivers a result over the 2 MiB message piece whole', async () => {
    const e = await ctx.run('from IPython.display import HTML\nHTML("z" * 5_000_000)');
    expect(e.results[0]!.html).toHaveLength(5_000_000);
    expect(e.results[0]!.truncated).toBe(false);
  });

  it('hands output written between cells to the next cell', async () => {
    await ctx.run('import threading, time\nthreading.Timer(0.3, lambda: print("late", flush=True)).start()');
    await new Promise((r) => setTimeout(r, 1_000));
    expect((await ctx.run('print("now")')).stdout).toBe('late\nnow\n');
  });

  it('survives garbage and an oversized line on its event channel: the agent keeps serving', async () => {
    // User code can reach the driver's event channel (it is the same process): the agent treats
    // what arrives there as untrusted, skips what it cannot use and holds no line over its bound.
    const e = await ctx.run(
      'import os\nfd = get_ipython().display_pub.publish.__func__.__globals__["events_fd"]\nos.write(fd, b"garbage\\n[1]\\n{\\"ev\\":\\"done\\",\\"seq\\":-5}\\n")\nos.write(fd, b"q" * (30 << 20) + b"\\n")\n7',
    );
    expect(e.status).toBe('ok');
    expect(e.text).toBe('7');
    expect(e.resultsTruncated).toBe(true);
    expect(e.message).toContain('dropped whole');
    expect(f.agent.log.some((l) => l.includes('event=context.bad_event'))).toBe(true);
    expect((await f.sb.exec(['true'])).status).toBe('exited');
  });

  it('finishes a cell that closed its stdout, saying the end marker did not come', async () => {
    const other = await f.sb.contexts.create('python');
    try {
      const e = await other.run('import os\nos.close(1)');
      expect(e.status).toBe('ok');
      expect(e.message).toContain('end marker');
    } finally {
      await other.close();
    }
  });
});

describe('python contexts: life and death', () => {
  it('a context whose process exits is reported dead, refuses cells, and restarts clean', async () => {
    const ctx = await f.sb.contexts.create('python');
    try {
      await ctx.run('y = 5');
      const e = await ctx.run('import os\nos._exit(3)');
      expect(e.status).toBe('context_died');
      expect(e.death).toEqual({ exitCode: 3, signal: undefined, memoryLimit: false });
      expect(e.message).toContain('exited with code 3');
      const info = await ctx.info();
      expect(info.state).toBe('dead');
      expect(info.death).toContain('exited with code 3');
      const refused = await ctx.run('1').catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(FailedPreconditionError);
      expect((refused as FailedPreconditionError).reason).toBe('CONTEXT_DEAD');

      const restarted = await ctx.restart();
      expect(restarted).toMatchObject({ state: 'idle', executionCount: 0 });
      expect((await ctx.run('y')).error?.name).toBe('NameError');
    } finally {
      await ctx.close();
    }
  });

  it('a context killed by a signal says which', async () => {
    const ctx = await f.sb.contexts.create('python');
    try {
      const e = await ctx.run('import os, signal\nos.kill(os.getpid(), signal.SIGKILL)');
      expect(e.status).toBe('context_died');
      expect(e.death?.signal).toBe('SIGKILL');
    } finally {
      await ctx.close();
    }
  });

  it('two contexts do not see each other; list shows both; a closed one is gone with why', async () => {
    const a = await f.sb.contexts.create('python');
    const b = await f.sb.contexts.create('python', { env: { MARK: 'b' } });
    await a.run('secret = "a"');
    expect((await b.run('secret')).error?.name).toBe('NameError');
    expect((await b.run('import os; os.environ["MARK"]')).text).toBe("'b'");
    const listed = await f.sb.contexts.list();
    expect(listed.map((c) => c.id)).toEqual(expect.arrayContaining([a.id, b.id]));
    await a.close();
    await b.close();
    const gone = await a.run('1').catch((error: unknown) => error);
    expect(gone).toBeInstanceOf(NotFoundError);
    expect((gone as NotFoundError).reason).toBe('CONTEXT_NOT_FOUND');
    expect((gone as NotFoundError).message).toContain('CloseContext');
    await a.close(); // closing twice is not an error
  });

  it('sb.runCode(lang, code, { context }) runs a cell; a plain runCode stays a fresh process', async () => {
    const ctx = await f.sb.contexts.create('python');
    try {
      await f.sb.runCode('python', 'z = 40', { context: ctx });
      const e = await f.sb.runCode('py', 'z + 2', { context: ctx });
      expect(e.text).toBe('42');
      const plain = await f.sb.runCode('python', 'print(globals().get("z"))');
      expect(plain.stdout).toBe('None\n');
      expect(() => f.sb.runCode('javascript', '1', { context: ctx })).toThrow(InvalidArgumentError);
    } finally {
      await ctx.close();
    }
  });

  it('names what is wrong with a bad request', async () => {
    const reasonOf = async (work: Promise<unknown>) => ((await work.catch((e: unknown) => e)) as { reason?: string }).reason;
    expect(await reasonOf(f.sb.contexts.create('bash'))).toBe('CONTEXT_LANGUAGE_UNSUPPORTED');
    expect(await reasonOf(f.sb.contexts.create('cobol'))).toBe('LANGUAGE_UNKNOWN');
    expect(await reasonOf(f.sb.contexts.create('python', { cwd: 'relative' }))).toBe('CWD_INVALID');
    expect(await reasonOf(f.sb.contexts.get('no-such-context'))).toBe('CONTEXT_NOT_FOUND');
    const start = await f.sb.contexts.create('python', { cwd: '/root' }).catch((e: unknown) => e);
    expect((start as { reason?: string }).reason).toBe('CONTEXT_START_FAILED');
    expect((start as Error).message).toContain('cwd "/root": user runbox cannot enter it');
  });
});
