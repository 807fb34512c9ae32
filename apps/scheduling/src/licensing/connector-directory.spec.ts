import type { MessagingConnection } from '@mlr/messaging';
import { describe, expect, it } from 'vitest';
import { ConnectorsUnavailable, LicensingConnectorDirectory } from './connector-directory.js';

const view = (id: string, tenantId: string, extra: Record<string, unknown> = {}) => ({
  id,
  tenantId,
  name: id,
  kind: 'imap',
  state: 'enrolled',
  enrolmentExpiresAt: null,
  enrolledAt: '2026-12-01T00:00:00.000Z',
  natsUserPublicKey: null,
  receiveAs: 'unknown',
  capabilityWarnings: [],
  capabilityCheckedAt: null,
  agentVersion: null,
  revokedAt: null,
  natsRevokedAt: null,
  createdAt: '2026-12-01T00:00:00.000Z',
  updatedAt: '2026-12-01T00:00:00.000Z',
  ...extra,
});

/** A messaging connection whose licensing answers `connectors.list` with whatever `answer` says. */
function licensing(answer: () => { response?: unknown; err?: unknown } | Error) {
  const asked: string[] = [];
  const messaging = {
    nc: {
      request: async (subject: string, packet: string) => {
        asked.push(`${subject} ${JSON.stringify((JSON.parse(packet) as { data: unknown }).data)}`);
        const reply = answer();
        if (reply instanceof Error) throw reply;
        return { json: () => reply };
      },
    },
  } as unknown as MessagingConnection;
  return { messaging, asked };
}

describe("LicensingConnectorDirectory: scheduling asks licensing for a tenant's connectors", () => {
  it('answers what licensing says, revoked and unenrolled ones flagged, and keeps it as the last known', async () => {
    const { messaging, asked } = licensing(() => ({
      response: {
        connectors: [
          view('live', 'acme'),
          view('gone', 'acme', { state: 'revoked', revokedAt: '2026-12-05T10:00:00.000Z' }),
          view('new', 'acme', { state: 'awaiting_enrolment', enrolledAt: null }),
          // Never another tenant's, whatever licensing answers.
          view('other', 'globex'),
        ],
      },
    }));
    const directory = new LicensingConnectorDirectory(messaging);
    const connectors = await directory.list('acme');
    expect(connectors).toEqual([
      { id: 'live', revokedAt: null, enrolled: true },
      { id: 'gone', revokedAt: new Date('2026-12-05T10:00:00.000Z'), enrolled: true },
      { id: 'new', revokedAt: null, enrolled: false },
    ]);
    expect(directory.lastKnown('acme')).toEqual(connectors);
    expect(asked).toEqual(['mlr.svc.licensing.connectors.list {"tenantId":"acme"}']);
  });

  it('answers no connectors for a tenant licensing does not know', async () => {
    const { messaging } = licensing(() => ({ err: { code: 'not_found', message: 'no tenant acme' } }));
    expect(await new LicensingConnectorDirectory(messaging).list('acme')).toEqual([]);
  });

  it('says licensing could not be asked, and keeps the last answer for the dispatcher', async () => {
    let reply: { response: unknown } | Error = { response: { connectors: [view('live', 'acme')] } };
    const { messaging } = licensing(() => reply);
    const directory = new LicensingConnectorDirectory(messaging);
    await directory.list('acme');
    reply = new Error('503 no responders');
    await expect(directory.list('acme')).rejects.toThrow(ConnectorsUnavailable);
    await expect(directory.list('acme')).rejects.toThrow(/licensing could not be asked for tenant acme's connectors/);
    expect(directory.lastKnown('acme')).toEqual([{ id: 'live', revokedAt: null, enrolled: true }]);
    expect(directory.lastKnown('globex')).toBeUndefined();
    reply = { response: { connectors: [{ id: 'broken' }] } };
    await expect(directory.list('acme')).rejects.toThrow(/unreadable answer/);
  });
});
