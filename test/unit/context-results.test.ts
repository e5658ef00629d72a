// The SDK's side of results: pieces joined by index, MIME data decoded by type, and no more kept
// than the limit the agent announced.
import { describe, expect, it } from 'vitest';
import { create } from '@bufbuild/protobuf';
import { MimeDataSchema, ResultSchema } from '../../proto/gen/runbox/v1/context_pb.js';
import { ResultAssembler } from '../../host/context/result.js';

const piece = (index: number, partial: boolean, data: [string, string | Uint8Array][], isMain = false) =>
  create(ResultSchema, {
    index,
    isMain,
    partial,
    data: data.map(([mimeType, d]) => create(MimeDataSchema, { mimeType, data: typeof d === 'string' ? new TextEncoder().encode(d) : d })),
  });

describe('ResultAssembler', () => {
  it('gives every known type its field and keeps all in data', () => {
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47]);
    const result = new ResultAssembler().push(
      piece(
        0,
        false,
        [
          ['text/plain', '   a\n0  1'],
          ['text/html', '<table></table>'],
          ['image/png', png],
          ['application/json', '{"a":[1]}'],
          ['text/markdown', '# t'],
          ['application/vnd.custom', 'raw'],
        ],
        true,
      ),
    )!;
    expect(result).toMatchObject({
      isMain: true,
      text: '   a\n0  1',
      html: '<table></table>',
      json: { a: [1] },
      markdown: '# t',
      truncated: false,
    });
    expect([...result.png!]).toEqual([...png]);
    expect(result.data['application/vnd.custom']).toBe('raw');
  });

  it('joins pieces of one result in order', () => {
    const assembler = new ResultAssembler();
    expect(
      assembler.push(
        piece(1, true, [
          ['text/plain', 'fig'],
          ['image/png', new Uint8Array([1, 2])],
        ]),
      ),
    ).toBeUndefined();
    expect(assembler.push(piece(1, true, [['image/png', new Uint8Array([3])]]))).toBeUndefined();
    const result = assembler.push(piece(1, false, [['image/png', new Uint8Array([4])]]))!;
    expect([...result.png!]).toEqual([1, 2, 3, 4]);
    expect(result.text).toBe('fig');
  });

  it('keeps no more than its limit whatever the agent sends, and marks the result', () => {
    const assembler = new ResultAssembler(5);
    const result = assembler.push(piece(0, false, [['text/plain', '0123456789']]))!;
    expect(result.text).toBe('01234');
    expect(result.truncated).toBe(true);
    expect(assembler.overLimit).toBe(true);
  });
});
