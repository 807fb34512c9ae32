/**
 * What a failed statement says about retrying it. Prisma wraps PostgreSQL errors differently per
 * path (driver adapter errors inside P2010, transaction conflicts as P2034), so the SQLSTATE is dug
 * out here, once.
 */

interface ErrorShape {
  code?: unknown;
  meta?: { code?: unknown; driverAdapterError?: { cause?: { originalCode?: unknown } } };
  cause?: unknown;
}

const SQLSTATE = /^[0-9A-Z]{5}$/;
/** Prisma's own codes (P1xxx-P6xxx) look like SQLSTATEs; PostgreSQL's P0xxx (PL/pgSQL) do not clash. */
const PRISMA_CODE = /^P[1-9][0-9]{3}$/;

/** The PostgreSQL SQLSTATE of `error` (or of an error it wraps), when it carries one. */
export function sqlStateOf(error: unknown): string | undefined {
  for (let current: unknown = error, depth = 0; current && depth < 5; depth++) {
    const shape = current as ErrorShape;
    const candidates = [shape.meta?.driverAdapterError?.cause?.originalCode, shape.meta?.code, shape.code];
    for (const candidate of candidates) {
      if (typeof candidate === 'string' && SQLSTATE.test(candidate) && !PRISMA_CODE.test(candidate)) return candidate;
    }
    current = shape.cause;
  }
  return undefined;
}

/**
 * The data itself is refused (class 22 data exception, class 23 integrity constraint violation, e.g.
 * a foreign key to a row that does not exist): the same rows fail the same way on every attempt.
 */
export function isDataError(error: unknown): boolean {
  const state = sqlStateOf(error);
  return state !== undefined && (state.startsWith('22') || state.startsWith('23'));
}

/** Lost a race with another transaction (deadlock, serialization failure): try again at once. */
export function isTransactionConflict(error: unknown): boolean {
  const state = sqlStateOf(error);
  if (state === '40P01' || state === '40001') return true;
  return (error as ErrorShape | undefined)?.code === 'P2034';
}
