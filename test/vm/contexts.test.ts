// Code contexts inside a real VM of the python-data image (numpy, pandas, matplotlib): rich
// results from the image's own libraries, the memory limit of a context (cgroups exist only in
// the guest), JavaScript on the image's Node 18, and contexts across a fork (state carried over,
// the interpreter's random generator reseeded by Claim).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSandbox, type LocalSandbox } from '../../host/vm/create.js';
import type { CodeContext } from '../../host/index.js';
import { ensureImage, figure, figures, IMAGES_DIR } from './vm-helpers.js';

afterAll(() => {
  process.stdout.write(`\nVM figures:\n${figures.map((f) => `  ${f}`).join('\n')}\n`);
});

const OPTIONS = { net: 'user', imagesDir: IMAGES_DIR, readyTimeoutMs: 240_000 } as const;
/** Importing pandas or pyplot takes seconds under emulation. */
const CELL = { timeoutMs: 180_000 };

function pngSize(bytes: Uint8Array | undefined): { width: number; height: number } {
  expect(bytes, 'an image/png result').toBeDefined();
  expect([...bytes!.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const view = new DataView(bytes!.buffer, bytes!.byteOffset, bytes!.byteLength);
  return { width: view.getUint32(16), height: view.getUint32(20) };
}

describe('code contexts in the python-data image', () => {
  let sb: LocalSandbox;
  let ctx: CodeContext;
  beforeAll(async () => {
    await ensureImage('python-data');
    const started = Date.now();
    sb = await createSandbox('python-data', OPTIONS);
    figure(`createSandbox(python-data): ${((Date.now() - started) / 1000).toFixed(1)} s`);
    const created = Date.now();
    ctx = await sb.contexts.create('python');
    figure(`python context ready in the VM: ${((Date.now() - created) / 1000).toFixed(1)} s`);
  }, 900_000);
  afterAll(async () => {
    await sb?.kill();
  });

  it('returns a DataFrame as an HTML table and a chart as a PNG; state survives between cells', async () => {
    const started = Date.now();
    const table = await ctx.run('import pandas as pd\ndf = pd.DataFrame({"a": [1, 2], "b": [3.5, 4.5]})\ndf', CELL);
    figure(`first pandas cell in the VM (import included): ${((Date.now() - started) / 1000).toFixed(1)} s`);
    expect(table.status).toBe('ok');
    expect(table.results.find((r) => r.isMain)?.html).toMatch(/<table[^>]*class="dataframe"[\s\S]*<td>3.5<\/td>/);
    expect((await ctx.run('float(df["b"].sum())', CELL)).text).toBe('8.0');

    const chart = await ctx.run('import matplotlib.pyplot as plt\nplt.plot(df["a"], df["b"])\nplt.show()', CELL);
    expect(chart.status).toBe('ok');
    const { width, height } = pngSize(chart.results.find((r) => r.png)?.png);
    expect(width).toBeGreaterThan(100);
    expect(height).toBeGreaterThan(100);
  });

  it('a context that allocates past its memory limit is reported dead as memory_limit and restarts clean', async () => {
    const small = await sb.contexts.create('python', { memoryBytes: 192 << 20 });
    try {
      expect((await small.info()).memoryBytes).toBe(192 << 20);
      await small.run('kept = 1', CELL);
      const e = await small.run('hog = []\nwhile True:\n    hog.append(bytearray(16 << 20))', CELL);
      expect(e.status).toBe('context_died');
      expect(e.death?.memoryLimit).toBe(true);
      expect(e.message).toContain('memory limit');
      expect((await small.info()).state).toBe('dead');
      await small.restart();
      expect((await small.run('kept', CELL)).error?.name).toBe('NameError');
      expect((await small.run('1 + 1', CELL)).text).toBe('2');
    } finally {
      await small.close();
    }
  });

  it("runs a javascript context on the image's Node 18", async () => {
    const js = await sb.contexts.create('javascript');
    try {
      expect(js.version).toMatch(/^Node\.js v18\./);
      await js.run('let x = 2', CELL);
      expect((await js.run('x * 21', CELL)).text).toBe('42');
      expect((await js.run('await new Promise((r) => setTimeout(() => r("awaited"), 10))', CELL)).text).toBe("'awaited'");
    } finally {
      await js.close();
    }
  });

  it('forked sandboxes carry a context with its state, and each reseeds its random generator', async () => {
    await ctx.run('import random\nrandom.seed(1)\nmarker = "from the parent"', CELL);
    const children = await sb.fork(2);
    try {
      const draws = await Promise.all(
        children.map(async (child) => {
          const inChild = await child.contexts.get(ctx.id);
          const e = await inChild.run('(marker, random.random())', CELL);
          expect(e.text).toMatch(/^\('from the parent', 0\.\d+\)$/);
          return e.text;
        }),
      );
      const parent = (await ctx.run('(marker, random.random())', CELL)).text;
      // Without the reseed every copy of the seeded generator would draw the same number.
      expect(new Set([...draws, parent]).size).toBe(3);
    } finally {
      for (const child of children) await child.kill();
    }
  });
});
