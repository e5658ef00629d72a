// xterm.js files served to the page, straight from node_modules (no CDN: the terminal works
// offline and serves exactly the version this package was tested with).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

export interface Asset {
  body: Buffer;
  type: string;
}

const require = createRequire(import.meta.url);

function packageDir(name: string): string {
  return path.dirname(require.resolve(`${name}/package.json`));
}

/** The assets by URL path; read once, on first use. */
export function loadAssets(): Map<string, Asset> {
  const xterm = packageDir('@xterm/xterm');
  const fit = packageDir('@xterm/addon-fit');
  const js = 'text/javascript; charset=utf-8';
  return new Map<string, Asset>([
    ['/assets/xterm.js', { body: readFileSync(path.join(xterm, 'lib/xterm.js')), type: js }],
    ['/assets/xterm.css', { body: readFileSync(path.join(xterm, 'css/xterm.css')), type: 'text/css; charset=utf-8' }],
    ['/assets/addon-fit.js', { body: readFileSync(path.join(fit, 'lib/addon-fit.js')), type: js }],
  ]);
}
