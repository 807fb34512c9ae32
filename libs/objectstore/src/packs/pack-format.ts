import { createHash } from 'node:crypto';
import { z } from 'zod';
import { contentIdSchema, ID_PATTERN, tenantIdSchema } from '@mlr/contracts';

/*
 * A pack: many sealed objects of one tenant in one S3 object, written once with one PUT.
 *
 *   offset            size  what
 *        0               8  header: magic "MLRP", format version (1), 3 reserved zero bytes
 *        8               …  members: sealed objects back to back (each self-delimiting, see @mlr/envelope)
 *   footerOffset         …  footer: UTF-8 JSON (PackFooter), listing every member with its offset and length
 *   size - 48           48  trailer: footerOffset (u64), footer length (u32), SHA-256 of the footer (32),
 *                           magic "MLRF" (4)                                           — all big-endian
 *
 * Everything that reads a member goes through its locator (key, pinned version id, offset, length),
 * kept in PostgreSQL; the footer makes the pack self-describing, so that the locators can be rebuilt
 * from the packs alone (`rebuild-locators`). The footer holds only what the platform already knows
 * (content ids, key ids, sizes): no message content.
 */

export const PACK_FORMAT_VERSION = 1;
export const PACK_HEADER_BYTES = 8;
export const PACK_TRAILER_BYTES = 48;
const HEADER_MAGIC = Buffer.from('MLRP', 'latin1');
const TRAILER_MAGIC = Buffer.from('MLRF', 'latin1');
/** A footer larger than this is not one we wrote (a pack of the maximum size holds far fewer members). */
export const MAX_FOOTER_BYTES = 64 * 1024 * 1024;

/** The pack cannot be read as a pack: the message says what is wrong with it. */
export class PackFormatError extends Error {
  override readonly name = 'PackFormatError';
}

const packMemberSchema = z.strictObject({
  contentId: contentIdSchema,
  keyId: z.string().regex(/^[0-9a-f]{16}$/),
  /** Byte offset of the sealed object in the pack. */
  offset: z.number().int().min(PACK_HEADER_BYTES),
  length: z.number().int().positive(),
  /** Size of the original message. */
  plainSize: z.number().int().nonnegative(),
});

export const packFooterSchema = z.strictObject({
  format: z.literal(PACK_FORMAT_VERSION),
  packId: z.string().regex(ID_PATTERN),
  tenantId: tenantIdSchema,
  createdAt: z.iso.datetime({ offset: true }),
  members: z.array(packMemberSchema).min(1),
});

export type PackMember = z.infer<typeof packMemberSchema>;
export type PackFooter = z.infer<typeof packFooterSchema>;

export interface PackTrailer {
  footerOffset: number;
  footerLength: number;
  footerSha256: Buffer;
}

export function packHeader(): Buffer {
  const header = Buffer.alloc(PACK_HEADER_BYTES);
  HEADER_MAGIC.copy(header, 0);
  header[4] = PACK_FORMAT_VERSION;
  return header;
}

/** Where each member of these sizes lands, and where the footer starts. */
export function layoutMembers(lengths: readonly number[]): { offsets: number[]; footerOffset: number } {
  const offsets: number[] = [];
  let position = PACK_HEADER_BYTES;
  for (const length of lengths) {
    offsets.push(position);
    position += length;
  }
  return { offsets, footerOffset: position };
}

/** The footer and trailer that end a pack whose members end at `footerOffset`. */
export function packTail(footer: PackFooter, footerOffset: number): Buffer {
  const text = Buffer.from(JSON.stringify(footer), 'utf8');
  const trailer = Buffer.alloc(PACK_TRAILER_BYTES);
  trailer.writeBigUInt64BE(BigInt(footerOffset), 0);
  trailer.writeUInt32BE(text.length, 8);
  createHash('sha256').update(text).digest().copy(trailer, 12);
  TRAILER_MAGIC.copy(trailer, 44);
  return Buffer.concat([text, trailer]);
}

/** The whole pack of these members (sealed bytes in the given order). */
export function encodePack(
  meta: Omit<PackFooter, 'format' | 'members'>,
  members: ReadonlyArray<Omit<PackMember, 'offset' | 'length'> & { sealed: Uint8Array }>,
): { bytes: Buffer; footer: PackFooter } {
  const { offsets, footerOffset } = layoutMembers(members.map((m) => m.sealed.byteLength));
  const footer: PackFooter = {
    format: PACK_FORMAT_VERSION,
    ...meta,
    members: members.map((m, i) => ({
      contentId: m.contentId,
      keyId: m.keyId,
      offset: offsets[i] as number,
      length: m.sealed.byteLength,
      plainSize: m.plainSize,
    })),
  };
  const bytes = Buffer.concat([packHeader(), ...members.map((m) => m.sealed), packTail(footer, footerOffset)]);
  return { bytes, footer };
}

/** Reads the trailer (the last PACK_TRAILER_BYTES of a pack of `packSize` bytes). */
export function decodePackTrailer(trailer: Uint8Array, packSize: number): PackTrailer {
  const bytes = Buffer.from(trailer.buffer, trailer.byteOffset, trailer.byteLength);
  if (bytes.length !== PACK_TRAILER_BYTES) {
    throw new PackFormatError(`a pack trailer is ${PACK_TRAILER_BYTES} bytes, got ${bytes.length}`);
  }
  if (!bytes.subarray(44).equals(TRAILER_MAGIC)) throw new PackFormatError('not a pack: no trailer magic at its end');
  const footerOffset = Number(bytes.readBigUInt64BE(0));
  const footerLength = bytes.readUInt32BE(8);
  if (footerLength > MAX_FOOTER_BYTES || footerOffset < PACK_HEADER_BYTES) {
    throw new PackFormatError(`the trailer names an impossible footer (offset ${footerOffset}, ${footerLength} bytes)`);
  }
  if (footerOffset + footerLength + PACK_TRAILER_BYTES !== packSize) {
    throw new PackFormatError(
      `the footer (offset ${footerOffset}, ${footerLength} bytes) and trailer do not end the ${packSize}-byte pack`,
    );
  }
  return { footerOffset, footerLength, footerSha256: Buffer.from(bytes.subarray(12, 44)) };
}

/** Checks and reads the footer that the trailer described. */
export function decodePackFooter(footer: Uint8Array, trailer: PackTrailer): PackFooter {
  const bytes = Buffer.from(footer.buffer, footer.byteOffset, footer.byteLength);
  if (bytes.length !== trailer.footerLength) {
    throw new PackFormatError(`the footer is ${bytes.length} bytes, the trailer says ${trailer.footerLength}`);
  }
  if (!createHash('sha256').update(bytes).digest().equals(trailer.footerSha256)) {
    throw new PackFormatError('the footer does not match its checksum in the trailer (the pack was altered)');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    throw new PackFormatError(`the footer is not JSON: ${(error as Error).message}`);
  }
  const result = packFooterSchema.safeParse(parsed);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${issue.path.join('.') || '(footer)'}: ${issue.message}`);
    throw new PackFormatError(`the footer is not a pack footer: ${problems.slice(0, 5).join('; ')}`);
  }
  let expected = PACK_HEADER_BYTES;
  for (const member of result.data.members) {
    if (member.offset !== expected) {
      throw new PackFormatError(
        `member ${member.contentId} starts at byte ${member.offset}; the members before it end at ${expected}`,
      );
    }
    expected += member.length;
  }
  if (expected !== trailer.footerOffset) {
    throw new PackFormatError(`the members end at byte ${expected} but the footer starts at ${trailer.footerOffset}`);
  }
  return result.data;
}

/** Checks a pack's first bytes. */
export function checkPackHeader(header: Uint8Array): void {
  const bytes = Buffer.from(header.buffer, header.byteOffset, header.byteLength);
  if (bytes.length < PACK_HEADER_BYTES || !bytes.subarray(0, 4).equals(HEADER_MAGIC)) {
    throw new PackFormatError('not a pack: no header magic at its start');
  }
  if (bytes[4] !== PACK_FORMAT_VERSION) {
    throw new PackFormatError(`pack format version ${bytes[4]} is not ${PACK_FORMAT_VERSION}`);
  }
}
