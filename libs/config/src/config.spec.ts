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
