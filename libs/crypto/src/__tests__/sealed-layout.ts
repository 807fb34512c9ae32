/** Test-side view of the sealed layout (see format.ts), to cut objects apart and tamper with them. */
export const HEADER_BYTES = 75;
const DESCRIPTOR_BYTES = 4;
const TAG_BYTES = 16;

export interface SealedParts {
  header: Buffer;
  /** Each segment whole: descriptor, ciphertext, tag. */
  segments: Buffer[];
}

export function splitSealed(sealed: Buffer): SealedParts {
  const segments: Buffer[] = [];
  let offset = HEADER_BYTES;
  while (offset < sealed.length) {
    const length = sealed.readUInt32BE(offset) & 0x7fffffff;
    const end = offset + DESCRIPTOR_BYTES + length + TAG_BYTES;
    segments.push(sealed.subarray(offset, end));
    offset = end;
  }
  return { header: sealed.subarray(0, HEADER_BYTES), segments };
}

export function joinSealed(parts: SealedParts): Buffer {
  return Buffer.concat([parts.header, ...parts.segments]);
}

export function flipByte(bytes: Buffer, offset: number, mask = 0x01): Buffer {
  const copy = Buffer.from(bytes);
  copy[offset] = copy[offset]! ^ mask;
  return copy;
}
