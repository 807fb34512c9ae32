import { describe, expect, it } from 'vitest';
import { ConfigError, databaseEnvSchema, loadConfig, serviceEnvSchema } from './index.js';

describe('loadConfig', () => {
  const schema = serviceEnvSchema.extend(databaseEnvSchema.shape);

  it('returns typed values with defaults', () => {
    const config = loadConfig('storage', schema, {
      NATS_URL: 'nats://127.0.0.1:4222',
      DATABASE_URL: 'postgresql://x@h/db',
    });
    expect(config.HTTP_PORT).toBe(0);
    expect(config.LOG_LEVEL).toBe('info');
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('names every bad variable', () => {
    try {
      loadConfig('storage', schema, { NATS_URL: 'http://wrong', HTTP_PORT: 'abc' });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      const message = (error as Error).message;
      expect(message).toMatch(/NATS_URL: must start with nats or tls:/);
      expect(message).toMatch(/DATABASE_URL: is required/);
      expect(message).toMatch(/HTTP_PORT/);
    }
  });
});

describe('NATS credentials', () => {
  const base = { NATS_URL: 'nats://127.0.0.1:4222', DATABASE_URL: 'postgresql://x@h/db' };
  const schema = serviceEnvSchema.extend(databaseEnvSchema.shape);
  const problem = (env: Record<string, string>) => {
    try {
      loadConfig('storage', schema, { ...base, ...env });
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      return (error as Error).message;
    }
    return null;
  };

  it('takes a creds file, a user with a password, or nothing', () => {
    expect(loadConfig('storage', schema, { ...base, NATS_CREDS: '/etc/mlr/services.creds' }).NATS_CREDS).toBe(
      '/etc/mlr/services.creds',
    );
    expect(loadConfig('storage', schema, { ...base, NATS_USER: 'svc', NATS_PASSWORD: 'secret' })).toMatchObject({
      NATS_USER: 'svc',
      NATS_PASSWORD: 'secret',
    });
    expect(loadConfig('storage', schema, base).NATS_CREDS).toBeUndefined();
  });

  it('refuses a creds file together with a user or password, naming them', () => {
    expect(problem({ NATS_CREDS: '/x.creds', NATS_USER: 'svc', NATS_PASSWORD: 'secret' })).toMatch(
      /NATS_CREDS: give NATS_CREDS \(a creds file\) or NATS_USER and NATS_PASSWORD, not both \(NATS_USER and NATS_PASSWORD also set\)/,
    );
    expect(problem({ NATS_CREDS: '/x.creds', NATS_PASSWORD: 'secret' })).toMatch(/not both \(NATS_PASSWORD also set\)/);
  });

  it('refuses a user without a password and a password without a user', () => {
    expect(problem({ NATS_USER: 'svc' })).toMatch(/NATS_PASSWORD: is required with NATS_USER/);
    expect(problem({ NATS_PASSWORD: 'secret' })).toMatch(/NATS_USER: is required with NATS_PASSWORD/);
  });

  it('reports the NATS rule together with the other bad variables', () => {
    const message = problem({ NATS_USER: 'svc', HTTP_PORT: 'abc' });
    expect(message).toMatch(/HTTP_PORT/);
    expect(message).toMatch(/NATS_PASSWORD: is required with NATS_USER/);
  });

  it('checks the rule also for schemas that extend the shared one and override its keys', () => {
    const gatewayLike = serviceEnvSchema.extend({ HTTP_PORT: serviceEnvSchema.shape.HTTP_PORT.default(8080) });
    expect(() =>
      loadConfig('gateway', gatewayLike, { NATS_URL: 'nats://h:4222', NATS_CREDS: '/x', NATS_USER: 'u' }),
    ).toThrow(/NATS_CREDS: give NATS_CREDS/);
  });

  it('rejects an empty creds path', () => {
    expect(problem({ NATS_CREDS: '' })).toMatch(/NATS_CREDS/);
  });
});
