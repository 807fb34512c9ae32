import { describe, expect, it } from 'vitest';
import { connectionLostMessage } from './agent.js';

describe('connectionLostMessage', () => {
  it('tells the admin to enrol again when the server refuses the credentials', () => {
    for (const reason of ['User Authentication Revoked', 'Authorization Violation', 'authentication expired']) {
      const message = connectionLostMessage(new Error(reason));
      expect(message).toContain(reason);
      expect(message).toMatch(/probably revoked.*connector enroll/);
    }
  });

  it('says plainly that the connection ended for any other reason', () => {
    expect(connectionLostMessage(new Error('connection refused'))).toBe(
      "the connection to the platform's NATS ended: connection refused",
    );
  });
});
