import { randomUUID } from 'node:crypto';

/**
 * A UUIDv7 (RFC 9562): 48-bit Unix time in milliseconds, then random bits. Time-ordered ids keep
 * the primary-key index append-mostly under bulk inserts, like the ids Prisma makes for the schema.
 * The random bits come from a v4 UUID (whose variant bits are already right): `randomUUID` draws from
 * a cached entropy pool, far cheaper per id than a `randomBytes` call.
 */
export function uuidV7(now: number = Date.now(), randomV4: string = randomUUID()): string {
  if (!Number.isInteger(now) || now < 0 || now >= 2 ** 48) throw new RangeError('time out of UUIDv7 range');
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(randomV4))
    throw new RangeError('UUIDv7 needs a lower-case v4 UUID as its source of random bits');
  const time = now.toString(16).padStart(12, '0');
  return `${time.slice(0, 8)}-${time.slice(8, 12)}-7${randomV4.slice(15, 18)}-${randomV4.slice(19)}`;
}
