/**
 * Turns string indices (UTF-16 code units) of `text` into UTF-8 byte offsets,
 * so that offsets name positions in the content itself. `indices` must be
 * ascending; the walk is linear in the text up to the last index.
 */
export function byteOffsets(
  text: string,
  indices: readonly number[],
): number[] {
  const out: number[] = [];
  let bytes = 0;
  let at = 0;
  for (const index of indices) {
    for (; at < index; at++) {
      const code = text.charCodeAt(at);
      // A surrogate pair is one 4-byte character: its high half counts for both.
      if (code < 0x80) bytes += 1;
      else if (code < 0x800) bytes += 2;
      else if (code >= 0xd800 && code <= 0xdbff) bytes += 4;
      else if (code >= 0xdc00 && code <= 0xdfff) bytes += 0;
      else bytes += 3;
    }
    out.push(bytes);
  }
  return out;
}
