// The public types of the `runbox` and `runbox/vm` entry points (the .d.ts files `npm run
// build` writes, with stripInternal) name nothing of @grpc/grpc-js and not runbox's internal
// Connection: every type reachable from an exported symbol through its public members,
// parameters, results and base classes is walked with the TypeScript checker. The handles and
// service classes whose constructors took grpc streams or a Connection are also checked by text.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { REPO } from '../helpers/agent.js';

const TYPES = path.join(REPO, 'dist/host/types/host');
const ENTRIES = ['index.d.ts', 'vm-api.d.ts'].map((f) => path.join(TYPES, f));
const CONNECTION = path.join(TYPES, 'transport/connection.d.ts');

/** A member no user of the declarations can reach: `#x`, `private x`. */
function isPrivate(node: ts.Node): boolean {
  const name = (node as { name?: ts.Node }).name;
  if (name && ts.isPrivateIdentifier(name)) return true;
  return ts.canHaveModifiers(node) && (ts.getModifiers(node) ?? []).some((m) => m.kind === ts.SyntaxKind.PrivateKeyword);
}

/** Every "what → where" path from an exported symbol to a type declared in grpc-js or to Connection. */
function leaks(): string[] {
  const program = ts.createProgram(ENTRIES, {
    noEmit: true,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    types: ['node'],
  });
  const checker = program.getTypeChecker();
  const found: string[] = [];
  const visited = new Set<ts.Symbol>();
  const resolve = (symbol: ts.Symbol) => (symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol);

  const visitSymbol = (symbol: ts.Symbol, via: string): void => {
    const target = resolve(symbol);
    if (visited.has(target)) return;
    visited.add(target);
    for (const declaration of target.declarations ?? []) {
      const file = declaration.getSourceFile().fileName;
      if (file.includes('/node_modules/@grpc/grpc-js/')) found.push(`${via} → ${target.name} (@grpc/grpc-js)`);
      else if (file === CONNECTION && target.name === 'Connection') found.push(`${via} → Connection (${path.relative(REPO, file)})`);
      else if (file.startsWith(path.join(REPO, 'dist/host/types'))) walk(declaration, `${via} → ${target.name}`);
    }
  };

  const walk = (node: ts.Node, via: string): void => {
    if (isPrivate(node)) return;
    if (ts.isTypeReferenceNode(node) || ts.isExpressionWithTypeArguments(node) || ts.isTypeQueryNode(node)) {
      const name = ts.isTypeReferenceNode(node) ? node.typeName : ts.isTypeQueryNode(node) ? node.exprName : node.expression;
      const symbol = checker.getSymbolAtLocation(name);
      if (symbol) visitSymbol(symbol, via);
    }
    if (ts.isImportTypeNode(node) && node.qualifier) {
      const symbol = checker.getSymbolAtLocation(node.qualifier);
      if (symbol) visitSymbol(symbol, via);
    }
    ts.forEachChild(node, (child) => walk(child, via));
  };

  for (const entry of ENTRIES) {
    const source = program.getSourceFile(entry)!;
    const moduleSymbol = checker.getSymbolAtLocation(source)!;
    for (const exported of checker.getExportsOfModule(moduleSymbol)) visitSymbol(exported, path.basename(entry));
  }
  expect(visited.size).toBeGreaterThan(50); // the walk reached the API, not just the entry files
  return found;
}

describe('public type declarations', () => {
  it('are built (npm run build)', () => {
    for (const entry of ENTRIES) expect(existsSync(entry), entry).toBe(true);
  });

  it('no exported symbol of runbox or runbox/vm reaches a grpc-js type or the internal Connection through its public members', () => {
    expect(leaks()).toEqual([]);
  });

  it.each([
    ['process/handle.d.ts', 'ProcessHandle'],
    ['shell/handle.d.ts', 'ShellHandle'],
    ['process/index.d.ts', 'ProcessApi'],
    ['shell/index.d.ts', 'ShellApi'],
    ['files/index.d.ts', 'FilesApi'],
  ])('%s declares %s without grpc-js, a grpc stream or a Connection in its constructor', (file, name) => {
    const text = readFileSync(path.join(TYPES, file), 'utf8');
    expect(text).toContain(`export declare class ${name} `);
    expect(text).not.toMatch(/@grpc\/grpc-js|ClientDuplexStream|\bConnection\b/);
  });

  it('does not let a user construct what only runbox makes (Sandbox, LocalSandbox, the APIs and handles)', () => {
    // The constructors taking internals are stripped; what is published takes `never`, so each
    // `new` below must be a type error in user code.
    const calls = [
      ['Sandbox', "import { Sandbox } from './index.js'; new Sandbox();"],
      ['CodeContext', "import { CodeContext } from './index.js'; new CodeContext();"],
      ['ShellHandle', "import { ShellHandle } from './index.js'; new ShellHandle();"],
      ['LocalSandbox', "import { LocalSandbox } from './vm-api.js'; new LocalSandbox();"],
      ['ContextApi', "import { ContextApi } from './context/index.js'; new ContextApi();"],
      ['ProcessHandle', "import { ProcessHandle } from './index.js'; new ProcessHandle();"],
      ['ProcessApi', "import { ProcessApi } from './process/index.js'; new ProcessApi();"],
      ['FilesApi', "import { FilesApi } from './files/index.js'; new FilesApi();"],
    ] as const;
    // One program for all snippets: each file must have an error of its own.
    const files = new Map(calls.map(([name, code]) => [path.join(TYPES, `__construct_${name}.ts`), code]));
    const options: ts.CompilerOptions = {
      strict: true,
      noEmit: true,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      target: ts.ScriptTarget.ES2022,
      types: ['node'],
    };
    const host = ts.createCompilerHost(options);
    const read = host.readFile.bind(host);
    const exists = host.fileExists.bind(host);
    host.readFile = (f) => files.get(f) ?? read(f);
    host.fileExists = (f) => files.has(f) || exists(f);
    const diagnostics = ts.getPreEmitDiagnostics(ts.createProgram([...files.keys()], options, host));
    for (const [file] of files) {
      const errors = diagnostics.filter((d) => d.file?.fileName === file).map((d) => ts.flattenDiagnosticMessageText(d.messageText, ' '));
      const constructs = errors.some((e) => /Expected \d+ argument|is protected|not assignable to parameter of type 'never'/.test(e));
      expect(constructs, `${path.basename(file)}: ${errors.join('; ') || 'no error'}`).toBe(true);
    }
  });
});
