// What a JavaScript value looks like as a result: a MIME bundle in the driver's wire form
// (text as text, binary as base64, JSON types as values; see docs/contexts.md).
import { inspect } from 'node:util';

export type WireValue = { text: string } | { b64: string } | { json: unknown };
export type WireBundle = Record<string, WireValue>;

const BINARY_TYPES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'application/pdf']);
const isJsonType = (mime: string) => mime === 'application/json' || mime.endsWith('+json');

/** A plain object or array that survives JSON as it is (no class instances, no cycles, no BigInt). */
function asJson(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return undefined;
  const proto = Object.getPrototypeOf(value) as unknown;
  if (!Array.isArray(value) && proto !== Object.prototype && proto !== null) return undefined;
  try {
    return JSON.parse(JSON.stringify(value)) as unknown;
  } catch {
    return undefined;
  }
}

/** text/plain as Node's REPL shows it, plus application/json for plain data. */
export function bundleOf(value: unknown): WireBundle {
  const bundle: WireBundle = { 'text/plain': { text: inspect(value, { depth: 4, maxArrayLength: 200, breakLength: 100 }) } };
  const json = asJson(value);
  if (json !== undefined) bundle['application/json'] = { json };
  return bundle;
}

/**
 * display(bundle, { raw: true }): the caller's own MIME bundle, e.g.
 * `{ 'text/html': '<b>hi</b>', 'image/png': pngBuffer }`. Binary types take a Buffer (or
 * base64 text); text types take text; JSON types any value. text/plain is added when missing.
 */
export function rawBundle(data: unknown): WireBundle {
  if (typeof data !== 'object' || data === null) throw new TypeError('display(data, { raw: true }) takes an object of MIME type -> value');
  const bundle: WireBundle = {};
  for (const [mime, value] of Object.entries(data as Record<string, unknown>)) {
    if (isJsonType(mime)) bundle[mime] = { json: value };
    else if (value instanceof Uint8Array) bundle[mime] = { b64: Buffer.from(value).toString('base64') };
    else if (BINARY_TYPES.has(mime) && typeof value === 'string') bundle[mime] = { b64: value };
    else bundle[mime] = { text: typeof value === 'string' ? value : inspect(value) };
  }
  if (!bundle['text/plain']) bundle['text/plain'] = { text: `<${Object.keys(bundle).join(', ') || 'empty'} display>` };
  return bundle;
}
