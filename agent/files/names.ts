// File names (and symlink targets) are bytes on Linux, but proto strings and the worker's JSON
// must be UTF-8. A valid name travels as it is; any other gets a display form, with each byte
// outside a valid UTF-8 sequence written \xNN, and its exact bytes travel beside it
// (FileInfo.raw_name). Shared by the file worker and the unit tests.

/**
 * Length of the well-formed UTF-8 sequence at bytes[i] (RFC 3629, Unicode table 3-7: no
 * overlong forms, no surrogates, nothing over U+10FFFF), or 0 if none starts there.
 */
function sequenceLength(bytes: Uint8Array, i: number): number {
  const lead = bytes[i]!;
  if (lead < 0x80) return 1;
  let length: number;
  // The second byte's range is narrower for some leads: that is what rules out overlongs,
  // surrogates (ED A0..BF) and code points over U+10FFFF.
  let low = 0x80;
  let high = 0xbf;
  if (lead >= 0xc2 && lead <= 0xdf) length = 2;
  else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3;
    if (lead === 0xe0) low = 0xa0;
    else if (lead === 0xed) high = 0x9f;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4;
    if (lead === 0xf0) low = 0x90;
    else if (lead === 0xf4) high = 0x8f;
  } else return 0;
  if (i + length > bytes.length) return 0;
  const second = bytes[i + 1]!;
  if (second < low || second > high) return 0;
  for (let k = 2; k < length; k++) {
    const b = bytes[i + k]!;
    if (b < 0x80 || b > 0xbf) return 0;
  }
  return length;
}

/**
 * `bytes` as a string: exact when `valid` (well-formed UTF-8), otherwise the display form,
 * valid sequences as they are and every other byte as `\xNN` (lowercase hex), e.g.
 * 66 ff 6f → "f\xffo". A BOM is kept as U+FEFF: it is part of the name.
 */
export function decodeName(bytes: Uint8Array): { text: string; valid: boolean } {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  let text = '';
  let runStart = 0;
  let valid = true;
  for (let i = 0; i < buffer.length;) {
    const length = sequenceLength(buffer, i);
    if (length > 0) {
      i += length;
      continue;
    }
    valid = false;
    text += buffer.toString('utf8', runStart, i) + `\\x${buffer[i]!.toString(16).padStart(2, '0')}`;
    i++;
    runStart = i;
  }
  return valid ? { text: buffer.toString('utf8'), valid } : { text: text + buffer.toString('utf8', runStart), valid };
}
