import { createHash, randomBytes } from 'node:crypto';
import { ENROLMENT_TOKEN_PREFIX } from '@mlr/contracts';

/** An enrolment token is valid this long unless the creator asks otherwise (24 hours). */
export const DEFAULT_ENROLMENT_TTL_MINUTES = 24 * 60;

/** A new single-use enrolment token: 32 random bytes, base64url, behind a recognisable prefix. */
export function newEnrolmentToken(): string {
  return `${ENROLMENT_TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
}

/**
 * What is stored instead of the token: its SHA-256 (hex). The token has 256 random bits, so a plain
 * hash is enough (no salt or slow KDF needed) and a leaked table yields no usable token.
 */
export function hashEnrolmentToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export function enrolmentExpiry(now: Date, ttlMinutes: number = DEFAULT_ENROLMENT_TTL_MINUTES): Date {
  return new Date(now.getTime() + ttlMinutes * 60_000);
}

/** An enrolment token is refused at and after its expiry instant. */
export function isEnrolmentExpired(expiresAt: Date, now: Date): boolean {
  return now.getTime() >= expiresAt.getTime();
}
