import { describe, expect, it } from 'vitest';
import type { Requester, RestoreTarget } from '@mlr/contracts';
import { restoreRefusal } from './record-resolver.js';
import { lastResultPerItem } from './restore-results.js';
import { RestoreErrorCode, RestoreException, toServiceErrorReply } from './restore.exception.js';
import { authorise, fitReply, MAX_REPLY_ITEM_BYTES, requireActingCredentials } from './restores.service.js';

const admin: Requester = { actor: 'admin', role: 'tenant_admin', visibleMailboxes: 'all', serviceAccount: true };
/** A tenant admin whose connector has no "Receive As": their own mailboxes, their own credentials. */
const narrowAdmin: Requester = {
  actor: 'admin',
  role: 'tenant_admin',
  visibleMailboxes: ['admin@acme.test'],
  serviceAccount: false,
};
const user: Requester = { actor: 'alice', role: 'user', visibleMailboxes: ['alice@acme.test'], serviceAccount: false };
const operator: Requester = { actor: 'ops', role: 'operator', visibleMailboxes: 'all', serviceAccount: false };

const original: RestoreTarget = { kind: 'original' };
const folder: RestoreTarget = { kind: 'folder', folder: 'Restored Items' };
const exportFile: RestoreTarget = { kind: 'export', format: 'mbox', fileName: 'a.mbox' };
const intoBob: RestoreTarget = { kind: 'mailbox', mailbox: 'bob@acme.test' };

function refusal(requester: Requester, target: RestoreTarget): RestoreException | null {
  try {
    authorise(requester, target);
    return null;
  } catch (error) {
    return error as RestoreException;
  }
}

describe('authorise', () => {
  it('refuses operators whatever the target', () => {
    for (const target of [original, folder, exportFile, intoBob]) {
      expect(refusal(operator, target)).toMatchObject({ code: RestoreErrorCode.FORBIDDEN, field: 'requester' });
    }
  });

  it('lets users restore to the original place, a folder or an export, never into another mailbox', () => {
    for (const target of [original, folder, exportFile]) expect(refusal(user, target)).toBeNull();
    expect(refusal(user, intoBob)).toMatchObject({ code: RestoreErrorCode.FORBIDDEN, field: 'target' });
  });

  it('lets a tenant admin restore into a mailbox they may see', () => {
    expect(refusal(admin, intoBob)).toBeNull();
    expect(refusal(narrowAdmin, intoBob)).toMatchObject({ code: RestoreErrorCode.FORBIDDEN, field: 'target.mailbox' });
    expect(refusal(narrowAdmin, { kind: 'mailbox', mailbox: 'admin@acme.test' })).toBeNull();
  });
});

describe('requireActingCredentials', () => {
  function refusalOf(requester: Requester, target: RestoreTarget, runBy: 'connector' | 'caller') {
    try {
      requireActingCredentials(requester, target, runBy, 'imap-1');
      return null;
    } catch (error) {
      return error as RestoreException;
    }
  }

  it('lets the agent act with the service account for a tenant admin with "Receive As"', () => {
    for (const target of [original, folder, intoBob, exportFile]) {
      expect(refusalOf(admin, target, 'connector')).toBeNull();
      expect(refusalOf(admin, target, 'caller')).toBeNull();
    }
  });

  it('sends users and tenant admins without "Receive As" to their own credentials', () => {
    const own: RestoreTarget = { kind: 'mailbox', mailbox: 'admin@acme.test' };
    for (const [requester, target] of [
      [user, original],
      [user, folder],
      [narrowAdmin, original],
      [narrowAdmin, own],
    ] as const) {
      const refusal = refusalOf(requester, target, 'connector');
      expect(refusal).toMatchObject({ code: RestoreErrorCode.OWN_CREDENTIALS_REQUIRED, field: 'runBy' });
      expect(refusal?.message).toContain('connector restore --own-credentials --login <address>');
      expect(refusalOf(requester, target, 'caller')).toBeNull();
    }
    expect(refusalOf(narrowAdmin, original, 'connector')?.message).toContain('connector imap-1');
    expect(refusalOf(user, original, 'connector')?.message).toContain('acts only for tenant admins');
  });

  it('lets anyone export through the agent: it opens no mailbox', () => {
    expect(refusalOf(user, exportFile, 'connector')).toBeNull();
    expect(refusalOf(narrowAdmin, { kind: 'export', format: 'eml-zip', fileName: 'a.zip' }, 'connector')).toBeNull();
  });

  it('never trusts serviceAccount on anyone but a tenant admin', () => {
    const claimed = { ...user, serviceAccount: true };
    expect(refusalOf(claimed, original, 'connector')).toMatchObject({
      code: RestoreErrorCode.OWN_CREDENTIALS_REQUIRED,
    });
  });
});

describe('restoreRefusal', () => {
  it('maps indexing refusals to restore errors named as in the restore request', () => {
    const notFound = restoreRefusal({
      code: 'not_found',
      message: 'selection.recordIds: tenant t has no index records x',
      field: 'selection.recordIds',
    });
    expect(notFound).toMatchObject({
      code: RestoreErrorCode.RECORDS_NOT_FOUND,
      field: 'recordIds',
      message: 'recordIds: tenant t has no index records x',
    });
    expect(restoreRefusal({ code: 'forbidden', message: 'no', field: 'selection.recordIds' }).code).toBe(
      RestoreErrorCode.FORBIDDEN,
    );
    const invalid = restoreRefusal({
      code: 'invalid_request',
      message: 'invalid: selection.query.fromDate: must be an ISO 8601 date-time',
      field: 'selection.query.fromDate',
      problems: [{ path: 'selection.query.fromDate', message: 'must be an ISO 8601 date-time' }],
    });
    expect(invalid).toMatchObject({
      code: RestoreErrorCode.INVALID_REQUEST,
      field: 'query.fromDate',
      problems: [{ path: 'query.fromDate', message: 'must be an ISO 8601 date-time' }],
    });
  });
});

describe('toServiceErrorReply', () => {
  it('gives every code its service error', () => {
    const codeOf = (code: RestoreErrorCode) => toServiceErrorReply(new RestoreException(code, 'x')).code;
    expect(codeOf(RestoreErrorCode.INVALID_REQUEST)).toBe('invalid_request');
    expect(codeOf(RestoreErrorCode.CONNECTOR_NOT_FOUND)).toBe('invalid_request');
    expect(codeOf(RestoreErrorCode.TOO_MANY_ITEMS)).toBe('invalid_request');
    expect(codeOf(RestoreErrorCode.RECORDS_NOT_FOUND)).toBe('not_found');
    expect(codeOf(RestoreErrorCode.JOB_NOT_FOUND)).toBe('not_found');
    expect(codeOf(RestoreErrorCode.FORBIDDEN)).toBe('forbidden');
    expect(codeOf(RestoreErrorCode.OWN_CREDENTIALS_REQUIRED)).toBe('forbidden');
    expect(codeOf(RestoreErrorCode.MLR_NOT_ALLOWED)).toBe('conflict');
  });
});

describe('lastResultPerItem', () => {
  it('keeps the last result of each item, in seq order', () => {
    expect(
      lastResultPerItem([
        { seq: 3, outcome: 'failed', reason: 'first try' },
        { seq: 1, outcome: 'restored' },
        { seq: 3, outcome: 'restored' },
      ]),
    ).toEqual([
      { seq: 1, outcome: 'restored' },
      { seq: 3, outcome: 'restored' },
    ]);
  });
});

describe('fitReply', () => {
  it('cuts a page short at the reply size, but always answers at least one item', () => {
    const big = 'x'.repeat(300 * 1024);
    expect(fitReply([big, big, big, big])).toHaveLength(2);
    const huge = 'x'.repeat(MAX_REPLY_ITEM_BYTES + 1);
    expect(fitReply([huge, huge])).toHaveLength(1);
    expect(fitReply([1, 2, 3])).toEqual([1, 2, 3]);
  });
});
