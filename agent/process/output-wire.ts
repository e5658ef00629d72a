// The one message of a flood, encoded by hand: RunCodeResponse and ExecResponse both carry
// Output as field 2, so one encoding serves both RPCs. protobuf-es would need the pieces joined
// into one `data` buffer first, then copy it into its writer and join its chunks again: three
// copies and three large allocations per message, whose garbage set off full GCs that cost a
// flood a quarter of the agent's CPU. Here the pieces are copied once, into the message
// (grpc-js copies it once more into its frame). The bytes are the same as toBinary's
// (test/unit/output-wire.test.ts checks both RPCs' messages); proto/grpc.ts sends a
// Uint8Array as the encoded message it is.
import type { OutputStream, Stage } from '../../proto/gen/runbox/v1/process_pb.js';

const varintLength = (n: number) => (n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5);

function writeVarint(buffer: Buffer, offset: number, n: number): number {
  while (n >= 0x80) {
    buffer[offset++] = (n & 0x7f) | 0x80;
    n >>>= 7;
  }
  buffer[offset++] = n;
  return offset;
}

/** Field tags: (field number << 3) | wire type (0 varint, 2 length-delimited). */
const RESPONSE_OUTPUT = (2 << 3) | 2;
const OUTPUT_STAGE = (1 << 3) | 0;
const OUTPUT_STREAM = (2 << 3) | 0;
const OUTPUT_DATA = (3 << 3) | 2;

/** `{ output: { stage, stream, data } }` of RunCodeResponse or ExecResponse; `bytes` is the pieces' total. */
export function encodeOutputResponse(stage: Stage, stream: OutputStream, pieces: readonly Buffer[], bytes: number): Buffer {
  // stage and stream are never 0 (UNSPECIFIED), so proto3 writes both; each fits one byte.
  // Empty data is left out, as proto3 does (CappedOutput never sends it anyway).
  const dataField = bytes === 0 ? 0 : 1 + varintLength(bytes) + bytes;
  const output = 2 + 2 + dataField;
  const message = Buffer.allocUnsafe(1 + varintLength(output) + output);
  let at = writeVarint(message, 0, RESPONSE_OUTPUT);
  at = writeVarint(message, at, output);
  message[at++] = OUTPUT_STAGE;
  message[at++] = stage;
  message[at++] = OUTPUT_STREAM;
  message[at++] = stream;
  if (bytes === 0) return message;
  message[at++] = OUTPUT_DATA;
  at = writeVarint(message, at, bytes);
  for (const piece of pieces) at += piece.copy(message, at);
  return message;
}
