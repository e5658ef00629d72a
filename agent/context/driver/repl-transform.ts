// REPL semantics for a JavaScript context cell, as a source rewrite of its top-level statements
// (the way Node's own REPL handles top-level await). Two things a plain vm.Script does not give:
//
// - Declarations a later cell may declare again. A top-level let/const/class of a script lives
//   in the context's script scope, and declaring the name again in a later cell is a
//   SyntaxError; in a notebook cells are re-run all the time. They become context variables
//   instead (`var` in a prelude script, an assignment in place), as in a browser console.
// - Top-level await. A cell that awaits outside any function runs as the body of an async
//   arrow function; its declarations go to the prelude (so they outlive the function), its
//   function declarations are exported to the context, and its last expression statement is
//   returned as the cell's value.
//
// Line numbers stay those of the cell (rewrites never add or remove a line), so stack traces
// point at what the user wrote.
import { parse, type Node } from 'acorn';

export interface ReplScript {
  /** `var a, b;` to run first (empty when nothing is declared). */
  prelude: string;
  /** The cell as a script; when `async`, its completion value is a Promise of the cell's value. */
  body: string;
  async: boolean;
}

type AnyNode = Node & Record<string, unknown>;

const isNode = (value: unknown): value is AnyNode =>
  typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string';

const FUNCTION_TYPES = new Set(['FunctionDeclaration', 'FunctionExpression', 'ArrowFunctionExpression']);

/** True when `node` awaits outside any function (an await inside a function is that function's). */
function awaitsAtTop(node: AnyNode): boolean {
  if (node.type === 'AwaitExpression' || (node.type === 'ForOfStatement' && node.await === true)) return true;
  if (FUNCTION_TYPES.has(node.type)) return false;
  for (const [key, value] of Object.entries(node)) {
    if (key === 'type' || key === 'start' || key === 'end') continue;
    const children = Array.isArray(value) ? value : [value];
    for (const child of children) if (isNode(child) && awaitsAtTop(child)) return true;
  }
  return false;
}

/** Names a declaration pattern binds: `{ a, b: [c, ...d] = [] }` gives a, c, d. */
function boundNames(pattern: AnyNode, into: string[]): string[] {
  switch (pattern.type) {
    case 'Identifier':
      into.push(pattern.name as string);
      break;
    case 'ObjectPattern':
      for (const p of pattern.properties as AnyNode[]) boundNames(p.type === 'RestElement' ? p : (p.value as AnyNode), into);
      break;
    case 'ArrayPattern':
      for (const e of pattern.elements as (AnyNode | null)[]) if (e) boundNames(e, into);
      break;
    case 'RestElement':
      boundNames(pattern.argument as AnyNode, into);
      break;
    case 'AssignmentPattern':
      boundNames(pattern.left as AnyNode, into);
      break;
  }
  return into;
}

interface Edit {
  start: number;
  end: number;
  text: string;
}

/**
 * The cell rewritten for REPL semantics, or undefined when it needs no rewrite (no top-level
 * declaration to lift, no top-level await) or does not parse (V8 then reports the
 * SyntaxError itself, with its own wording).
 */
export function toReplScript(code: string): ReplScript | undefined {
  let program: AnyNode;
  try {
    program = parse(code, { ecmaVersion: 'latest', sourceType: 'script', allowAwaitOutsideFunction: true }) as unknown as AnyNode;
  } catch {
    return undefined;
  }
  const statements = program.body as AnyNode[];
  const isAsync = statements.some(awaitsAtTop);
  const lifted: string[] = [];
  const exported: string[] = [];
  const edits: Edit[] = [];
  const src = (node: AnyNode) => code.slice(node.start, node.end);

  for (const statement of statements) {
    if (statement.type === 'VariableDeclaration') {
      // `var` is left alone in a plain script: it is a context variable already.
      if (!isAsync && statement.kind === 'var') continue;
      const assignments: string[] = [];
      for (const declarator of statement.declarations as AnyNode[]) {
        const id = declarator.id as AnyNode;
        lifted.push(...boundNames(id, []));
        if (declarator.init) assignments.push(`(${src(id)} = ${src(declarator.init as AnyNode)})`);
        else if (statement.kind !== 'var') assignments.push(`(${src(id)} = undefined)`);
      }
      edits.push({ start: statement.start, end: statement.end, text: assignments.length ? `void (${assignments.join(', ')});` : ';' });
    } else if (statement.type === 'ClassDeclaration') {
      const name = (statement.id as AnyNode).name as string;
      lifted.push(name);
      edits.push({ start: statement.start, end: statement.end, text: `void (${name} = ${src(statement)});` });
    } else if (statement.type === 'FunctionDeclaration' && isAsync) {
      // Hoisted inside the async body as it is; the first statement of the body exports it.
      exported.push((statement.id as AnyNode).name as string);
    }
  }
  if (!isAsync && edits.length === 0) return undefined;

  const last = statements[statements.length - 1];
  if (isAsync && last?.type === 'ExpressionStatement') {
    edits.push({ start: last.start, end: last.end, text: `return (${src(last.expression as AnyNode)});` });
  }
  let body = code;
  for (const edit of edits.sort((a, b) => b.start - a.start)) body = body.slice(0, edit.start) + edit.text + body.slice(edit.end);
  if (isAsync) {
    const exports = exported.map((name) => `globalThis[${JSON.stringify(name)}] = ${name};`).join(' ');
    body = `(async () => { ${exports}${body}\n})()`;
  }
  const names = [...new Set([...lifted, ...exported])];
  return { prelude: names.length ? `var ${names.join(', ')};` : '', body, async: isAsync };
}
