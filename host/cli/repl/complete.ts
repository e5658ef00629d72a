// When is a cell complete? The REPL reads lines until the cell can run: brackets closed, no
// string or comment left open, no trailing backslash, and (Python) a block opened by a line
// ending in ':' closed by an empty line, as in Python's own REPL. A scan of the text, not a
// parse: good enough to decide when to ask for more; the interpreter judges the code.

export type ReplLanguage = 'python' | 'javascript';

interface Scan {
  depth: number;
  /** The text ends inside a multi-line string, template literal or block comment. */
  open: boolean;
}

/** Scans `text`: bracket depth outside strings and comments, and whether something is left open. */
function scan(text: string, language: ReplLanguage): Scan {
  let depth = 0;
  let i = 0;
  const n = text.length;
  const closeOf = (quote: string, from: number, multiline: boolean): number => {
    for (let j = from; j < n; j++) {
      if (text[j] === '\\') j++;
      else if (text.startsWith(quote, j)) return j + quote.length;
      else if (!multiline && text[j] === '\n') return j;
    }
    return -1;
  };
  while (i < n) {
    const c = text[i]!;
    if (language === 'python' && c === '#') i = text.indexOf('\n', i) === -1 ? n : text.indexOf('\n', i);
    else if (language === 'javascript' && text.startsWith('//', i)) i = text.indexOf('\n', i) === -1 ? n : text.indexOf('\n', i);
    else if (language === 'javascript' && text.startsWith('/*', i)) {
      const end = text.indexOf('*/', i + 2);
      if (end === -1) return { depth, open: true };
      i = end + 2;
    } else if (language === 'python' && (text.startsWith('"""', i) || text.startsWith("'''", i))) {
      const end = closeOf(text.slice(i, i + 3), i + 3, true);
      if (end === -1) return { depth, open: true };
      i = end;
    } else if (c === '`' && language === 'javascript') {
      const end = closeOf('`', i + 1, true);
      if (end === -1) return { depth, open: true };
      i = end;
    } else if (c === '"' || c === "'") {
      const end = closeOf(c, i + 1, false);
      i = end === -1 ? n : end;
    } else {
      if ('([{'.includes(c)) depth++;
      else if (')]}'.includes(c)) depth--;
      i++;
    }
  }
  return { depth, open: false };
}

/** True when the lines so far make a cell to run; false when the REPL should read another line. */
export function isComplete(lines: readonly string[], language: ReplLanguage): boolean {
  const text = lines.join('\n');
  if (text.trim() === '') return true;
  const { depth, open } = scan(text, language);
  if (open || depth > 0) return false;
  const last = lines[lines.length - 1]!;
  if (last.endsWith('\\')) return false;
  if (language === 'python') {
    // A block (def, for, if, class, with...) ends at an empty line.
    const opensBlock = lines.some((line) => /:\s*(#.*)?$/.test(line));
    if (opensBlock && last.trim() !== '') return false;
  }
  return true;
}
