// printable(): control characters from the agent are shown escaped; text, tabs and newlines are not.
import { describe, expect, it } from 'vitest';
import { printable } from '../../host/cli/printable.js';

describe('printable', () => {
  it.each([
    ['plain text', 'hello, wörld ✓', 'hello, wörld ✓'],
    ['tab and newline stay', 'a\tb\nc', 'a\tb\nc'],
    ['ESC (CSI, OSC)', '\u001b[2J\u001b]0;title\u0007', '\\u001b[2J\\u001b]0;title\\u0007'],
    ['carriage return and backspace', 'ok\rfake\b', 'ok\\u000dfake\\u0008'],
    ['NUL', 'a\u0000b', 'a\\u0000b'],
    ['DEL', 'a\u007fb', 'a\\u007fb'],
    ['C1 CSI', 'a\u009b2Jb', 'a\\u009b2Jb'],
    ['U+00A0 is not a control', 'a\u00a0b', 'a\u00a0b'],
  ])('%s', (_name, input, expected) => {
    expect(printable(input)).toBe(expected);
  });

  it('keeps JSON valid: the escapes are JSON escapes', () => {
    const json = printable(JSON.stringify({ message: 'x\u009by\u007f' }));
    expect(JSON.parse(json)).toEqual({ message: 'x\u009by\u007f' });
  });
});
