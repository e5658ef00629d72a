// decodeName(): file names are bytes; a valid UTF-8 name is exact, any other gets a display form
// (\xNN per stray byte) and travels with its bytes. toFileInfo(): the SDK exposes those bytes
// as rawName only when the agent sent them.
import { isUtf8 } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import { create } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { decodeName } from '../../agent/files/names.js';
import { FileInfoSchema } from '../../proto/gen/runbox/v1/files_pb.js';
import { toFileInfo } from '../../host/files/types.js';

const bytes = (...b: number[]) => Uint8Array.from(b);

describe('decodeName', () => {
  it.each([
    ['ASCII', Buffer.from('hello.txt'), 'hello.txt'],
    ['two-, three- and four-byte sequences', Buffer.from('é€😀'), 'é€😀'],
    ['a BOM stays (it is part of the name)', bytes(0xef, 0xbb, 0xbf, 0x61), '\ufeffa'],
    ['the highest code point', bytes(0xf4, 0x8f, 0xbf, 0xbf), '\u{10ffff}'],
    ['the bytes around the surrogates', bytes(0xed, 0x9f, 0xbf, 0xee, 0x80, 0x80), '\ud7ff\ue000'],
    ['a backslash is not escaped', Buffer.from('a\\xffb'), 'a\\xffb'],
    ['empty', bytes(), ''],
  ])('valid UTF-8 is exact: %s', (_what, input, text) => {
    expect(decodeName(input)).toEqual({ text, valid: true });
  });

  it.each([
    ['a byte no UTF-8 has', bytes(0x66, 0xff, 0x6f), 'f\\xffo'],
    ['Latin-1', Buffer.from('caf\xe9', 'latin1'), 'caf\\xe9'],
    ['a stray continuation byte', bytes(0x64, 0x80), 'd\\x80'],
    ['a truncated sequence, then ASCII', bytes(0xe2, 0x82, 0x61), '\\xe2\\x82a'],
    ['a truncated sequence at the end', bytes(0x61, 0xf0, 0x9f, 0x98), 'a\\xf0\\x9f\\x98'],
    ['an overlong NUL', bytes(0xc0, 0x80), '\\xc0\\x80'],
    ['an overlong three-byte form', bytes(0xe0, 0x80, 0xaf), '\\xe0\\x80\\xaf'],
    ['an encoded surrogate (CESU-8)', bytes(0xed, 0xa0, 0x80), '\\xed\\xa0\\x80'],
    ['over U+10FFFF', bytes(0xf4, 0x90, 0x80, 0x80), '\\xf4\\x90\\x80\\x80'],
    ['valid text around the bad byte stays', Buffer.concat([Buffer.from('é'), bytes(0xfe), Buffer.from('😀')]), 'é\\xfe😀'],
  ])('anything else gets the display form: %s', (_what, input, text) => {
    expect(decodeName(input)).toEqual({ text, valid: false });
  });

  it('works on a view into a larger buffer', () => {
    const whole = Buffer.from([0x41, 0x66, 0xff, 0x6f, 0x42]);
    expect(decodeName(whole.subarray(1, 4))).toEqual({ text: 'f\\xffo', valid: false });
  });

  it("agrees with Node's own UTF-8 check on random bytes; valid ones decode as TextDecoder does", () => {
    const strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
    for (let n = 0; n < 5000; n++) {
      // Mostly high bytes, so lead/continuation patterns of every kind come up.
      const input = Buffer.from(randomBytes(1 + (n % 8)).map((b) => (b & 1 ? b | 0x80 : b)));
      const { text, valid } = decodeName(input);
      expect(valid, input.toString('hex')).toBe(isUtf8(input));
      if (valid) expect(text).toBe(strict.decode(input));
      else expect(text).toMatch(/\\x[0-9a-f]{2}/);
    }
  });

  it('different bad names get different display forms', () => {
    expect(decodeName(bytes(0x66, 0xfe)).text).not.toBe(decodeName(bytes(0x66, 0xff)).text);
  });
});

describe('toFileInfo (SDK)', () => {
  it('exposes raw_name as rawName only when it is set', () => {
    const plain = toFileInfo(create(FileInfoSchema, { path: '/t/a', name: 'a' }));
    expect('rawName' in plain).toBe(false);
    const raw = toFileInfo(create(FileInfoSchema, { path: '/t/f\\xffo', name: 'f\\xffo', rawName: bytes(0x66, 0xff, 0x6f) }));
    expect(raw.name).toBe('f\\xffo');
    expect(raw.rawName).toEqual(bytes(0x66, 0xff, 0x6f));
  });
});
