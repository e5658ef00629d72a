// When `runbox repl` runs what was typed and when it asks for another line.
import { describe, expect, it } from 'vitest';
import { isComplete } from '../../host/cli/repl/complete.js';
import { pngSize } from '../../host/cli/repl/show.js';

describe('isComplete', () => {
  it.each<[string, 'python' | 'javascript', string[], boolean]>([
    ['a plain line', 'python', ['x = 1'], true],
    ['an empty line', 'python', [''], true],
    ['an open bracket', 'python', ['f(1,'], false],
    ['the bracket closed on the next line', 'python', ['f(1,', '2)'], true],
    ['a bracket inside a string does not count', 'python', ['s = "("'], true],
    ['a bracket inside a comment does not count', 'python', ['x = 1  # ('], true],
    ['a def needs an empty line to end', 'python', ['def f():', '    return 1'], false],
    ['the empty line ends it', 'python', ['def f():', '    return 1', ''], true],
    ['an open triple-quoted string', 'python', ['s = """abc'], false],
    ['the string closed', 'python', ['s = """abc', 'def"""'], true],
    ['a trailing backslash', 'python', ['x = 1 + \\'], false],
    ['a dict with colons is not a block', 'python', ["d = {'a': 1}"], true],
    ['a JavaScript block', 'javascript', ['function f() {'], false],
    ['the block closed', 'javascript', ['function f() {', '  return 1', '}'], true],
    ['an open template literal', 'javascript', ['const s = `a'], false],
    ['a brace inside a template literal', 'javascript', ['const s = `{`'], true],
    ['an open block comment', 'javascript', ['/* note'], false],
    ['a brace in a line comment', 'javascript', ['x = 1 // {'], true],
    ['a # is no comment in JavaScript', 'javascript', ['x = "#"; (1'], false],
  ])('%s (%s)', (_name, language, lines, complete) => {
    expect(isComplete(lines, language)).toBe(complete);
  });
});

describe('pngSize', () => {
  it('reads width x height from the IHDR chunk', () => {
    const png = Buffer.from('89504e470d0a1a0a0000000d49484452000002300000019d08060000', 'hex');
    expect(pngSize(png)).toBe('560x413');
  });
  it('says nothing of what is not a PNG', () => {
    expect(pngSize(Buffer.from('GIF89a............................'))).toBe('');
  });
});
