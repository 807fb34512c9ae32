import { describe, expect, it } from 'vitest';
import { envFor, mayReceive, PLATFORM_SERVICES } from './service-env.js';

describe('envFor: each cloud service receives only its own secrets', () => {
  const everything = {
    NATS_URL: 'nats://127.0.0.1:4222',
    NATS_CREDS: '/state/services.creds',
    LOG_LEVEL: 'info',
    DATABASE_URL: 'postgresql://postgres@127.0.0.1/mlr',
    LICENSING_DATABASE_URL: 'postgresql://mlr_licensing@127.0.0.1/mlr',
    SCHEDULING_DATABASE_URL: 'postgresql://mlr_scheduling@127.0.0.1/mlr',
    INDEXING_DATABASE_URL: 'postgresql://mlr_indexing@127.0.0.1/mlr',
    STORAGE_DATABASE_URL: 'postgresql://mlr_storage@127.0.0.1/mlr',
    S3_ENDPOINT: 'http://127.0.0.1:7480',
    S3_ACCESS_KEY: 'key',
    S3_SECRET_KEY: 'secret',
    AUTH_JWT_PUBLIC_KEY: 'pem',
    LICENSING_NATS_ACCOUNT_SIGNING_SEED: 'SA…',
    LICENSING_NATS_OPERATOR_SIGNING_SEED: 'SO…',
    LICENSING_VENDOR_PUBLIC_KEY: 'pem',
    STORAGE_RETENTION_DAYS: '30',
    SCHEDULING_TICK_MS: '200',
  };

  it('gives licensing its NATS signing seeds and its own database URL, never the S3 keys or the token key', () => {
    expect(Object.keys(envFor('licensing', everything)).sort()).toEqual(
      [
        'DATABASE_URL',
        'LICENSING_NATS_ACCOUNT_SIGNING_SEED',
        'LICENSING_NATS_OPERATOR_SIGNING_SEED',
        'LICENSING_VENDOR_PUBLIC_KEY',
        'LOG_LEVEL',
        'NATS_CREDS',
        'NATS_URL',
      ].sort(),
    );
    expect(envFor('licensing', everything)['DATABASE_URL']).toBe(everything.LICENSING_DATABASE_URL);
  });

  it("hands each service its own database role as DATABASE_URL, and the owner's URL to none", () => {
    for (const service of PLATFORM_SERVICES) {
      expect({ service, owner: mayReceive(service, 'DATABASE_URL') }).toEqual({ service, owner: false });
      const urls = Object.entries(envFor(service, everything)).filter(([variable]) =>
        variable.endsWith('DATABASE_URL'),
      );
      expect({ service, urls }).toEqual({
        service,
        urls:
          service === 'gateway'
            ? []
            : [['DATABASE_URL', everything[`${service.toUpperCase()}_DATABASE_URL` as 'LICENSING_DATABASE_URL']]],
      });
    }
  });

  it('gives the S3 keys to storage alone and the token key to the gateway alone', () => {
    for (const service of PLATFORM_SERVICES) {
      expect({ service, s3: mayReceive(service, 'S3_SECRET_KEY') }).toEqual({ service, s3: service === 'storage' });
      expect({ service, auth: mayReceive(service, 'AUTH_JWT_PUBLIC_KEY') }).toEqual({
        service,
        auth: service === 'gateway',
      });
    }
    expect(envFor('gateway', everything)).toEqual({
      NATS_URL: everything.NATS_URL,
      NATS_CREDS: everything.NATS_CREDS,
      LOG_LEVEL: 'info',
      AUTH_JWT_PUBLIC_KEY: 'pem',
    });
  });

  it("keeps a service's own settings from the others", () => {
    expect(mayReceive('storage', 'STORAGE_RETENTION_DAYS')).toBe(true);
    expect(mayReceive('indexing', 'STORAGE_RETENTION_DAYS')).toBe(false);
    expect(mayReceive('scheduling', 'SCHEDULING_TICK_MS')).toBe(true);
    expect(mayReceive('licensing', 'SCHEDULING_TICK_MS')).toBe(false);
  });
});
