import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { scramVerifier, serviceLogins } from './service-roles.js';

describe('scramVerifier', () => {
  it('makes the verifier RFC 7677 implies: its server key signs the RFC example exchange as the RFC says', () => {
    const salt = Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64');
    const verifier = scramVerifier('pencil', salt, 4096);
    const match = /^SCRAM-SHA-256\$4096:([^$]+)\$([^:]+):(.+)$/.exec(verifier);
    expect(match?.[1]).toBe('W22ZaJ0SNY7soEsUEjb6gQ==');
    const serverKey = Buffer.from(match![3]!, 'base64');
    const authMessage =
      'n=user,r=rOprNGfwEbeRWgbNEkqO,' +
      'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,' +
      'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0';
    expect(createHmac('sha256', serverKey).update(authMessage).digest('base64')).toBe(
      '6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=',
    );
  });

  it('salts each verifier anew', () => {
    expect(scramVerifier('same')).not.toBe(scramVerifier('same'));
  });
});

describe('serviceLogins', () => {
  const urls = {
    licensing: 'postgresql://mlr_licensing:a%40b@db/mlr',
    scheduling: 'postgresql://mlr_scheduling@db/mlr',
    indexing: 'postgresql://mlr_indexing@db/mlr',
    storage: 'postgres://mlr_storage@db/mlr',
  };

  it("reads each service's role and password from its URL", () => {
    expect(serviceLogins(urls)).toEqual([
      { service: 'licensing', role: 'mlr_licensing', password: 'a@b' },
      { service: 'scheduling', role: 'mlr_scheduling', password: undefined },
      { service: 'indexing', role: 'mlr_indexing', password: undefined },
      { service: 'storage', role: 'mlr_storage', password: undefined },
    ]);
  });

  it('refuses a URL without a user, one that is no URL, and two services sharing a role', () => {
    expect(() => serviceLogins({ ...urls, scheduling: 'postgresql://db/mlr' })).toThrow(
      /SCHEDULING_DATABASE_URL names no user/,
    );
    expect(() => serviceLogins({ ...urls, storage: 'not a url' })).toThrow(/STORAGE_DATABASE_URL is not a URL/);
    expect(() => serviceLogins({ ...urls, storage: urls.indexing })).toThrow(/indexing and storage would both connect/);
  });
});
