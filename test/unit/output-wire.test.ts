// The hand-encoded Output response (agent/process/output-wire.ts) must be byte for byte what
// protobuf-es writes for the same message, for both RPCs, at every length-prefix size.
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { encodeOutputResponse } from '../../agent/process/output-wire.js';
import { ExecResponseSchema, OutputStream, RunCodeResponseSchema, Stage } from '../../proto/gen/runbox/v1/process_pb.js';

/** Pieces of distinct bytes whose lengths add up to `total`. */
function pieces(total: number, parts: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0, left = total; i < parts; i++) {
    const size = i === parts - 1 ? left : Math.floor(total / parts);
    out.push(Buffer.alloc(size, 97 + (i % 26)));
    left -= size;
  }
  return out;
}

describe('encodeOutputResponse', () => {
  // Lengths around each varint boundary of the data and of the Output message around it.
  const sizes = [0, 1, 120, 121, 122, 127, 128, 16_377, 16_378, 16_384, 262_144, 1 << 20, 2_097_140, 2_097_152];
  it.each(sizes.flatMap((size) => [1, 3].map((parts) => [size, parts] as const)))('%i bytes in %i pieces', (size, parts) => {
    const data = pieces(size, parts);
    const joined = Buffer.concat(data);
    for (const [stage, stream] of [
      [Stage.RUN, OutputStream.STDOUT],
      [Stage.COMPILE, OutputStream.STDERR],
    ] as const) {
      const encoded = encodeOutputResponse(stage, stream, data, size);
      const value = create(ExecResponseSchema, { event: { case: 'output', value: { stage, stream, data: joined } } });
      expect(Buffer.from(toBinary(ExecResponseSchema, value)).equals(encoded)).toBe(true);
      const runCode = create(RunCodeResponseSchema, { event: { case: 'output', value: { stage, stream, data: joined } } });
      expect(Buffer.from(toBinary(RunCodeResponseSchema, runCode)).equals(encoded)).toBe(true);
      const decoded = fromBinary(RunCodeResponseSchema, encoded);
      expect(decoded.event.case).toBe('output');
      expect(decoded.event.case === 'output' && Buffer.from(decoded.event.value.data).equals(joined)).toBe(true);
    }
  });
});
