import { describe, expect, it } from 'vitest';
import { isDataError, isTransactionConflict, sqlStateOf } from './postgres-errors.js';

/** The shape Prisma 7 gives a failed raw query over the pg driver adapter. */
function prismaRawError(sqlState: string): Error {
  return Object.assign(new Error(`Raw query failed. Code: \`${sqlState}\`.`), {
    code: 'P2010',
    meta: { driverAdapterError: { name: 'DriverAdapterError', cause: { originalCode: sqlState, kind: 'x' } } },
  });
}

describe('postgres errors', () => {
  it('finds the SQLSTATE inside a Prisma raw-query error, not the Prisma code', () => {
    expect(sqlStateOf(prismaRawError('23503'))).toBe('23503');
    expect(sqlStateOf(Object.assign(new Error('x'), { code: 'P2010', meta: {} }))).toBeUndefined();
  });

  it('finds it on a plain pg error and behind a cause', () => {
    expect(sqlStateOf(Object.assign(new Error('x'), { code: '22003' }))).toBe('22003');
    expect(sqlStateOf(new Error('wrapped', { cause: Object.assign(new Error('x'), { code: '40P01' }) }))).toBe('40P01');
    expect(sqlStateOf(new Error('connection refused'))).toBeUndefined();
  });

  it('calls refused data (classes 22 and 23) data errors, and nothing else', () => {
    expect(isDataError(prismaRawError('23503'))).toBe(true); // foreign key
    expect(isDataError(prismaRawError('22P05'))).toBe(true); // untranslatable character
    expect(isDataError(prismaRawError('40P01'))).toBe(false);
    expect(isDataError(prismaRawError('57P01'))).toBe(false); // admin shutdown
    expect(isDataError(new Error('socket hang up'))).toBe(false);
  });

  it('recognises lost transaction races', () => {
    expect(isTransactionConflict(prismaRawError('40P01'))).toBe(true);
    expect(isTransactionConflict(prismaRawError('40001'))).toBe(true);
    expect(isTransactionConflict(Object.assign(new Error('write conflict'), { code: 'P2034' }))).toBe(true);
    expect(isTransactionConflict(prismaRawError('23505'))).toBe(false);
  });
});
