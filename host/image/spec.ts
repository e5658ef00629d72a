// Image specs are data (init/images/*.json). This module loads one, follows `extends`, validates
// every field and merges the chain into one ResolvedSpec that the builder consumes.
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join, resolve, dirname, isAbsolute } from 'node:path';
import { specsDir } from './paths.js';
import { InvalidArgumentError } from '../errors.js';

export type InitSystem = 'systemd' | 'openrc';

export interface LanguageSpec {
  /** Debian package whose installed version is reported for this language. */
  package: string;
}

export interface FileSpec {
  /** Absolute path inside the image. */
  path: string;
  content: string;
  /** Octal string, e.g. "0644". */
  mode?: string;
  /** "root" (default) or "runbox". */
  owner?: 'root' | 'runbox';
}

export interface WarmupSpec {
  /** Command run as the runbox user inside the image at build time (argv, never a shell string). */
  argv: string[];
  cwd?: string;
  env?: Record<string, string>;
}

/** A spec as written in a JSON file. */
export interface ImageSpecFile {
  name: string;
  extends?: string;
  description?: string;
  backports?: boolean;
  packages?: string[];
  languages?: Record<string, LanguageSpec>;
  env?: Record<string, string>;
  files?: FileSpec[];
  warmup?: WarmupSpec[];
  /** dpkg path globs never unpacked into this image (and its children), e.g. tool binaries nobody runs. */
  excludePaths?: string[];
  /** dpkg path globs unpacked after all, overriding an exclude from a parent spec or the builder's defaults. */
  includePaths?: string[];
}

/** One dpkg path filter; dpkg applies them in order and the last match wins. */
export interface PathFilter {
  action: 'exclude' | 'include';
  glob: string;
}

/** A spec with its `extends` chain merged (parents first). */
export interface ResolvedSpec {
  name: string;
  description: string;
  /** Names of the specs merged, root first (e.g. ["base","bash","python"]). */
  chain: string[];
  backports: boolean;
  packages: string[];
  languages: Record<string, LanguageSpec>;
  env: Record<string, string>;
  files: FileSpec[];
  warmup: WarmupSpec[];
  /** Path filters in chain order (each spec's excludes, then its includes), after the builder's defaults. */
  pathFilters: PathFilter[];
}

/** An image spec that cannot be used; the message names the spec and the field. */
export class SpecError extends InvalidArgumentError {
  constructor(
    /** The spec file or name concerned. */
    readonly spec: string,
    message: string,
  ) {
    super(`image spec ${spec}: ${message}`, { reason: 'SPEC_INVALID', metadata: { spec } });
  }
}

const NAME_RE = /^[a-z0-9][a-z0-9._-]{0,62}$/;
// Debian package names (policy 5.6.1) — optionally no version/suite syntax: specs pick suites via `backports`.
const PKG_RE = /^[a-z0-9][a-z0-9+.-]+$/;
const ENV_KEY_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
const MODE_RE = /^0?[0-7]{3,4}$/;
// dpkg glob: absolute, fnmatch metacharacters allowed, nothing that could break the dpkg.cfg line mmdebstrap writes.
const GLOB_RE = /^\/[A-Za-z0-9._+@*?[\]/-]+$/;
const KNOWN_KEYS = new Set([
  'name',
  'extends',
  'description',
  'backports',
  'packages',
  'languages',
  'env',
  'files',
  'warmup',
  'excludePaths',
  'includePaths',
]);

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function stringArray(where: string, field: string, v: unknown): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) {
    throw new SpecError(where, `"${field}" must be an array of strings`);
  }
  return v;
}

function absPath(where: string, field: string, p: unknown): string {
  if (typeof p !== 'string' || !p.startsWith('/') || p.includes('\0') || p.split('/').includes('..')) {
    throw new SpecError(where, `"${field}" must be an absolute path without ".." (got ${JSON.stringify(p)})`);
  }
  return p;
}

function envRecord(where: string, field: string, v: unknown): Record<string, string> {
  if (v === undefined) return {};
  if (!isRecord(v)) throw new SpecError(where, `"${field}" must be an object of strings`);
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v)) {
    if (!ENV_KEY_RE.test(k)) throw new SpecError(where, `"${field}" key ${JSON.stringify(k)} is not a valid variable name`);
    if (typeof val !== 'string' || val.includes('\n') || val.includes('\0')) {
      throw new SpecError(where, `"${field}.${k}" must be a single-line string`);
    }
    out[k] = val;
  }
  return out;
}

function globArray(where: string, field: string, v: unknown): string[] {
  const globs = stringArray(where, field, v);
  for (const g of globs) {
    if (!GLOB_RE.test(g) || g.split('/').includes('..')) {
      throw new SpecError(
        where,
        `"${field}" entry ${JSON.stringify(g)} must be an absolute dpkg path glob (letters, digits, . _ + @ - / * ? [ ])`,
      );
    }
  }
  return globs;
}

/** Validate the parsed JSON of one spec file (no `extends` resolution). */
export function validateSpecFile(where: string, raw: unknown): ImageSpecFile {
  if (!isRecord(raw)) throw new SpecError(where, 'must be a JSON object');
  for (const k of Object.keys(raw)) {
    if (!KNOWN_KEYS.has(k)) throw new SpecError(where, `unknown field "${k}" (known: ${[...KNOWN_KEYS].join(', ')})`);
  }
  if (typeof raw.name !== 'string' || !NAME_RE.test(raw.name)) {
    throw new SpecError(where, `"name" must match ${NAME_RE} (got ${JSON.stringify(raw.name)})`);
  }
  if (raw.extends !== undefined && (typeof raw.extends !== 'string' || raw.extends.length === 0)) {
    throw new SpecError(where, '"extends" must be a spec name or a path to a .json spec');
  }
  if (raw.description !== undefined && typeof raw.description !== 'string') throw new SpecError(where, '"description" must be a string');
  if (raw.backports !== undefined && typeof raw.backports !== 'boolean') throw new SpecError(where, '"backports" must be true or false');
  const packages = stringArray(where, 'packages', raw.packages);
  for (const p of packages) if (!PKG_RE.test(p)) throw new SpecError(where, `package ${JSON.stringify(p)} is not a Debian package name`);

  const languages: Record<string, LanguageSpec> = {};
  if (raw.languages !== undefined) {
    if (!isRecord(raw.languages)) throw new SpecError(where, '"languages" must be an object');
    for (const [lang, l] of Object.entries(raw.languages)) {
      if (!NAME_RE.test(lang)) throw new SpecError(where, `language name ${JSON.stringify(lang)} is invalid`);
      if (!isRecord(l) || typeof l.package !== 'string' || !PKG_RE.test(l.package)) {
        throw new SpecError(where, `"languages.${lang}.package" must be a Debian package name`);
      }
      languages[lang] = { package: l.package };
    }
  }

  const files: FileSpec[] = [];
  if (raw.files !== undefined) {
    if (!Array.isArray(raw.files)) throw new SpecError(where, '"files" must be an array');
    raw.files.forEach((f: unknown, i: number) => {
      if (!isRecord(f)) throw new SpecError(where, `"files[${i}]" must be an object`);
      const path = absPath(where, `files[${i}].path`, f.path);
      if (typeof f.content !== 'string') throw new SpecError(where, `"files[${i}].content" must be a string`);
      if (f.mode !== undefined && (typeof f.mode !== 'string' || !MODE_RE.test(f.mode))) {
        throw new SpecError(where, `"files[${i}].mode" must be an octal string like "0644"`);
      }
      if (f.owner !== undefined && f.owner !== 'root' && f.owner !== 'runbox') {
        throw new SpecError(where, `"files[${i}].owner" must be "root" or "runbox"`);
      }
      files.push({ path, content: f.content, mode: f.mode, owner: f.owner });
    });
  }

  const warmup: WarmupSpec[] = [];
  if (raw.warmup !== undefined) {
    if (!Array.isArray(raw.warmup)) throw new SpecError(where, '"warmup" must be an array');
    raw.warmup.forEach((w: unknown, i: number) => {
      if (!isRecord(w)) throw new SpecError(where, `"warmup[${i}]" must be an object`);
      const argv = stringArray(where, `warmup[${i}].argv`, w.argv);
      if (argv.length === 0) throw new SpecError(where, `"warmup[${i}].argv" must not be empty`);
      absPath(where, `warmup[${i}].argv[0]`, argv[0]);
      if (argv.some((a) => a.includes('\0'))) throw new SpecError(where, `"warmup[${i}].argv" contains a NUL byte`);
      const cwd = w.cwd === undefined ? undefined : absPath(where, `warmup[${i}].cwd`, w.cwd);
      warmup.push({ argv, cwd, env: envRecord(where, `warmup[${i}].env`, w.env) });
    });
  }

  return {
    name: raw.name,
    extends: raw.extends,
    description: raw.description,
    backports: raw.backports,
    packages,
    languages,
    env: envRecord(where, 'env', raw.env),
    files,
    warmup,
    excludePaths: globArray(where, 'excludePaths', raw.excludePaths),
    includePaths: globArray(where, 'includePaths', raw.includePaths),
  };
}

/** A spec reference is a built-in name ("python") or a path to a .json file. */
export function specPath(ref: string, relativeTo?: string): string {
  if (ref.endsWith('.json') || ref.includes('/')) {
    return isAbsolute(ref) ? ref : resolve(relativeTo ?? process.cwd(), ref);
  }
  if (!NAME_RE.test(ref)) throw new SpecError(ref, 'is neither a spec name nor a path to a .json file');
  return join(specsDir(), `${ref}.json`);
}

async function loadSpecFile(path: string): Promise<ImageSpecFile> {
  if (!existsSync(path)) throw new SpecError(path, 'file not found (built-in specs live in init/images/)');
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, 'utf8'));
  } catch (e) {
    throw new SpecError(path, `is not valid JSON: ${(e as Error).message}`);
  }
  return validateSpecFile(path, raw);
}

/**
 * Load a spec by name or path and merge its `extends` chain. Children add packages, languages, files
 * and warm-up commands after their parent's; env keys and languages of a child override the parent's.
 */
export async function resolveSpec(ref: string): Promise<ResolvedSpec> {
  const chain: ImageSpecFile[] = [];
  const seen = new Set<string>();
  let path = specPath(ref);
  for (;;) {
    if (seen.has(path)) throw new SpecError(path, `"extends" cycle: ${[...seen].join(' -> ')}`);
    seen.add(path);
    const s = await loadSpecFile(path);
    chain.unshift(s);
    if (s.extends === undefined) break;
    // A path in `extends` is relative to the spec that names it; a bare name is a built-in spec.
    path = specPath(s.extends, dirname(path));
    if (chain.length > 16) throw new SpecError(path, '"extends" chain deeper than 16');
  }
  const leaf = chain[chain.length - 1]!;
  const out: ResolvedSpec = {
    name: leaf.name,
    description: leaf.description ?? '',
    chain: chain.map((s) => s.name),
    backports: false,
    packages: [],
    languages: {},
    env: {},
    files: [],
    warmup: [],
    pathFilters: [],
  };
  for (const s of chain) {
    out.backports ||= s.backports ?? false;
    for (const p of s.packages ?? []) if (!out.packages.includes(p)) out.packages.push(p);
    Object.assign(out.languages, s.languages);
    Object.assign(out.env, s.env);
    // A later file with the same path replaces the earlier one.
    for (const f of s.files ?? []) {
      out.files = out.files.filter((x) => x.path !== f.path);
      out.files.push(f);
    }
    out.warmup.push(...(s.warmup ?? []));
    for (const glob of s.excludePaths ?? []) out.pathFilters.push({ action: 'exclude', glob });
    for (const glob of s.includePaths ?? []) out.pathFilters.push({ action: 'include', glob });
  }
  return out;
}
