// Which languages this machine can run, found at agent start, and how each one is run.
// Toolchains are searched on a FIXED path, never the agent's inherited PATH: an operator's
// PATH (~/.cargo, ~/.pyenv) points at tools the unprivileged run-as user cannot use.
import { execFile } from 'node:child_process';
import { accessSync, constants, readdirSync, readFileSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { SYSTEM_PATH } from '../usercode/env.js';

export interface LanguageInfo {
  name: string;
  aliases: string[];
  version: string;
  compiled: boolean;
}

/** Paths of one run, handed to a language's argv builders. */
export interface RunPaths {
  /** The private directory holding the source. */
  dir: string;
  /** The source file (absolute). */
  source: string;
  /** Where the compile stage writes its output (absolute, inside `dir`). */
  output: string;
  /** The agent's cache directory (Go build cache, GOPATH). */
  cacheDir: string;
}

/** A command to spawn: argv plus environment added on top of the run's base environment. */
export interface Command {
  argv: string[];
  env: Record<string, string>;
}

/** How one detected language is compiled (optionally) and run. */
export interface LanguageSpec extends LanguageInfo {
  /** File name of the source inside the private directory, e.g. "main.py". */
  sourceFile: string;
  /** File name of the compile output inside the private directory. */
  outputFile: string;
  /** The compile stage, for compiled languages. */
  compile?: (paths: RunPaths) => Command;
  /** The run stage. `program` is the source (interpreted) or the cached compile output. */
  run: (program: string, args: string[]) => Command;
}

export interface LanguageRegistry {
  list(): LanguageInfo[];
  /** Canonical language for a name or alias (case-insensitive), or undefined. */
  resolve(nameOrAlias: string): LanguageInfo | undefined;
  /** The full spec of a canonical name (or alias), or undefined. */
  spec(nameOrAlias: string): LanguageSpec | undefined;
  /** The PATH every run gets: the fixed system path plus the Go toolchain's bin, when found. */
  readonly searchPath: string;
  /**
   * Settles once the toolchains are known: the agent serves while they are being found, and
   * whatever needs them (runs, shells, ListLanguages) waits for this first.
   */
  readonly ready: Promise<void>;
}

/** Directories TypeScript's compiler module may live in (Debian's node-typescript first). */
const TYPESCRIPT_MODULE_DIRS = [
  '/usr/share/nodejs/typescript',
  '/usr/lib/node_modules/typescript',
  '/usr/local/lib/node_modules/typescript',
];
const DETECT_TIMEOUT_MS = 15_000;

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function findOnPath(name: string, dirs: string[]): string | undefined {
  for (const dir of dirs) {
    const candidate = path.join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/** Debian installs Go as /usr/lib/go-1.NN/bin: newest first. */
function goBinDirs(): string[] {
  let entries: string[] = [];
  try {
    entries = readdirSync('/usr/lib').filter((e) => /^go-\d+\.\d+$/.test(e));
  } catch {
    /* no /usr/lib */
  }
  const minor = (e: string) => Number(e.split('.')[1]);
  entries.sort((a, b) => minor(b) - minor(a));
  return ['/usr/local/go/bin', ...entries.map((e) => `/usr/lib/${e}/bin`)];
}

/** Runs a version command with a clean environment; '' when it fails. */
function output(file: string, args: string[]): Promise<string> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      // cwd '/': a go.mod in the agent's cwd must not make `go version` fetch a toolchain.
      { cwd: '/', timeout: DETECT_TIMEOUT_MS, env: { PATH: SYSTEM_PATH, HOME: '/', GOTOOLCHAIN: 'local', LANG: 'C.UTF-8' } },
      (error, stdout, stderr) => resolve(error ? '' : `${stdout}${stderr}`),
    );
  });
}

function match(text: string, pattern: RegExp): string | undefined {
  return pattern.exec(text)?.[1];
}

function dpkgVersion(pkg: string): Promise<string> {
  return output('/usr/bin/dpkg-query', ['-W', '-f', '${Version}', pkg]).then((v) => v.trim());
}

// The compile stage of TypeScript: a constant script, all paths as argv. transpileModule
// strips types without type-checking; syntax errors are reported and fail the stage.
const TYPESCRIPT_COMPILE_SCRIPT = `
const [tsPath, input, output] = process.argv.slice(1);
const ts = require(tsPath);
const fs = require('fs');
const result = ts.transpileModule(fs.readFileSync(input, 'utf8'), {
  fileName: require('path').basename(input),
  reportDiagnostics: true,
  compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2020, esModuleInterop: true },
});
const errors = (result.diagnostics || []).filter((d) => d.category === ts.DiagnosticCategory.Error);
if (errors.length > 0) {
  process.stderr.write(ts.formatDiagnostics(errors, {
    getCanonicalFileName: (f) => f, getCurrentDirectory: () => process.cwd(), getNewLine: () => '\\n',
  }));
  process.exit(1);
}
fs.writeFileSync(output, result.outputText);
`;

type Detector = () => Promise<LanguageSpec | undefined>;

function interpreted(name: string, aliases: string[], version: string, binary: string, sourceFile: string): LanguageSpec {
  return {
    name,
    aliases,
    version,
    compiled: false,
    sourceFile,
    outputFile: '',
    run: (program, args) => ({ argv: [binary, program, ...args], env: {} }),
  };
}

type Find = (name: string) => string | undefined;

async function detectBash(find: Find): Promise<LanguageSpec | undefined> {
  const bash = find('bash');
  if (!bash) return undefined;
  const version = match(await output(bash, ['--version']), /version (\d+\.\d+\.\d+)/);
  return version ? interpreted('bash', [], version, bash, 'main.sh') : undefined;
}

async function detectSh(): Promise<LanguageSpec | undefined> {
  if (!isExecutable('/bin/sh')) return undefined;
  // /bin/sh is dash on Debian, bash or busybox elsewhere: report which one.
  const impl = path.basename(realpathSync('/bin/sh'));
  const pkgVersion = impl === 'dash' || impl === 'busybox' ? await dpkgVersion(impl) : '';
  const version = pkgVersion ? `${impl} ${pkgVersion}` : impl;
  return interpreted('sh', ['posix-sh'], version, '/bin/sh', 'main.sh');
}

async function detectPython(find: Find): Promise<LanguageSpec | undefined> {
  const python = find('python3');
  if (!python) return undefined;
  const version = match(await output(python, ['--version']), /Python (\d+\.\d+\.\d+)/);
  return version ? interpreted('python', ['py', 'python3'], version, python, 'main.py') : undefined;
}

async function detectJavascript(find: Find): Promise<LanguageSpec | undefined> {
  const node = find('node') ?? find('nodejs');
  if (!node) return undefined;
  const version = match(await output(node, ['--version']), /v(\d+\.\d+\.\d+)/);
  return version ? interpreted('javascript', ['js', 'node', 'nodejs'], version, node, 'main.js') : undefined;
}

async function detectTypescript(find: Find): Promise<LanguageSpec | undefined> {
  const node = find('node') ?? find('nodejs');
  const moduleDir = TYPESCRIPT_MODULE_DIRS.find((dir) => {
    try {
      readFileSync(path.join(dir, 'package.json'));
      return true;
    } catch {
      return false;
    }
  });
  if (!node || !moduleDir) return undefined;
  const version = (JSON.parse(readFileSync(path.join(moduleDir, 'package.json'), 'utf8')) as { version?: string }).version;
  if (!version) return undefined;
  return {
    name: 'typescript',
    aliases: ['ts'],
    version,
    compiled: true,
    sourceFile: 'main.ts',
    outputFile: 'main.js',
    compile: (p) => ({ argv: [node, '-e', TYPESCRIPT_COMPILE_SCRIPT, moduleDir, p.source, p.output], env: {} }),
    run: (program, args) => ({ argv: [node, program, ...args], env: {} }),
  };
}

async function detectGo(systemDirs: string[]): Promise<LanguageSpec | undefined> {
  const go = findOnPath('go', [...systemDirs, ...goBinDirs()]);
  if (!go) return undefined;
  const version = match(await output(go, ['version']), /go(\d+\.\d+(?:\.\d+)?)/);
  if (!version) return undefined;
  return {
    name: 'go',
    aliases: ['golang'],
    version,
    compiled: true,
    sourceFile: 'main.go',
    outputFile: 'main',
    compile: (p) => ({
      argv: [go, 'build', '-o', p.output, p.source],
      env: {
        GOCACHE: path.join(p.cacheDir, 'go-build'),
        GOPATH: path.join(p.cacheDir, 'gopath'),
        // Offline and reproducible: no toolchain downloads, no module proxy, no user go.env.
        GOTOOLCHAIN: 'local',
        GOPROXY: 'off',
        GOFLAGS: '-mod=mod',
        GOENV: 'off',
        CGO_ENABLED: '0',
      },
    }),
    run: (program, args) => ({ argv: [program, ...args], env: {} }),
  };
}

async function detectRust(find: Find): Promise<LanguageSpec | undefined> {
  const rustc = find('rustc');
  if (!rustc) return undefined;
  const version = match(await output(rustc, ['--version']), /rustc (\d+\.\d+\.\d+)/);
  if (!version) return undefined;
  return {
    name: 'rust',
    aliases: ['rs', 'rustc'],
    version,
    compiled: true,
    sourceFile: 'main.rs',
    outputFile: 'main',
    compile: (p) => ({ argv: [rustc, '--edition', '2021', '-O', '-o', p.output, p.source], env: { TMPDIR: p.dir } }),
    run: (program, args) => ({ argv: [program, ...args], env: {} }),
  };
}

function detectors(systemDirs: string[]): Detector[] {
  const find: Find = (name) => findOnPath(name, systemDirs);
  return [detectBash, detectSh, detectPython, detectJavascript, detectTypescript, () => detectGo(systemDirs), detectRust].map(
    (detect) => () => detect(find),
  );
}

function info(spec: LanguageSpec): LanguageInfo {
  return { name: spec.name, aliases: [...spec.aliases], version: spec.version, compiled: spec.compiled };
}

export function registry(specs: LanguageSpec[], searchPath: string): LanguageRegistry {
  const byName = new Map<string, LanguageSpec>();
  for (const spec of specs) {
    for (const name of [spec.name, ...spec.aliases]) byName.set(name.toLowerCase(), spec);
  }
  return {
    list: () => specs.map(info),
    resolve: (name) => {
      const spec = byName.get(name.toLowerCase());
      return spec && info(spec);
    },
    spec: (name) => byName.get(name.toLowerCase()),
    searchPath,
    ready: Promise.resolve(),
  };
}

/**
 * The registry while `detecting` runs: empty, with the fixed search path, until it settles,
 * then the detected one. Finding the toolchains means starting each one's version command
 * (half the agent's start here; more under emulation), so the agent listens meanwhile.
 */
export function detectingRegistry(detecting: Promise<LanguageRegistry>): LanguageRegistry {
  let found: LanguageRegistry | undefined;
  const ready = detecting.then((registry) => {
    found = registry;
  });
  return {
    list: () => found?.list() ?? [],
    resolve: (name) => found?.resolve(name),
    spec: (name) => found?.spec(name),
    get searchPath() {
      return found?.searchPath ?? SYSTEM_PATH;
    },
    ready,
  };
}

/** Detects every supported toolchain (in parallel) and its version. */
export async function detectLanguages(): Promise<LanguageRegistry> {
  const systemDirs = SYSTEM_PATH.split(':');
  const found = await Promise.all(detectors(systemDirs).map((detect) => detect().catch(() => undefined)));
  const specs = found.filter((s): s is LanguageSpec => s !== undefined);
  const goBin = specs.find((s) => s.name === 'go')?.compile?.({ dir: '', source: '', output: '', cacheDir: '' }).argv[0];
  const goDir = goBin ? path.dirname(goBin) : undefined;
  const searchPath = goDir && !systemDirs.includes(goDir) ? `${SYSTEM_PATH}:${goDir}` : SYSTEM_PATH;
  return registry(specs, searchPath);
}
