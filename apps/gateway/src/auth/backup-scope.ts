import { BadRequestException, ForbiddenException } from '@nestjs/common';
import type { PlanInput } from '@mlr/contracts';
import { accessOf } from '../http/requester.js';
import type { BadRequestBody } from '../http/validation.js';
import type { ServiceClient } from '../services/service-client.js';
import { principalOf, type AuthenticatedRequest } from './principal.js';

/**
 * A backup plan's mailboxes must be within what the person who sets them — or runs the plan now —
 * may reach: operators set up backups for their tenants (they never see the content); a tenant admin
 * chooses any mailbox only while the plan's connector has "Receive As", otherwise only their own
 * mailboxes, by name. The owner of any other mailbox backs it up with their own login
 * (`connector backup --own-credentials --login <address>`).
 */
export async function checkBackupScope(
  request: AuthenticatedRequest,
  services: ServiceClient,
  mailboxes: PlanInput['mailboxes'],
  connectorId: string,
): Promise<void> {
  if (principalOf(request).role === 'operator') return;
  const { requester, connectorInService } = await accessOf(request, services, { connectorId });
  const visible = requester.visibleMailboxes;
  if (visible === 'all') return;
  const outside =
    mailboxes.kind === 'all' ? null : mailboxes.mailboxes.filter((mailbox) => !visible.includes(mailbox.toLowerCase()));
  if (outside !== null && outside.length === 0) return;
  if (connectorInService === false) {
    // Most likely a mistyped id (scheduling would refuse it the same way); otherwise a connector
    // awaiting enrolment, whose service account nobody has checked yet, or a revoked one.
    const message =
      `connectorId: ${connectorId} is not an enrolled connector of the tenant (unknown, awaiting enrolment or revoked), ` +
      'so it is not known to have "Receive As": name an enrolled connector, or list only your own mailboxes';
    const body: BadRequestBody = {
      statusCode: 400,
      error: 'Bad Request',
      message,
      field: 'connectorId',
      problems: [{ path: 'connectorId', message }],
    };
    throw new BadRequestException(body);
  }
  const without = `without "Receive As" on connector ${connectorId}`;
  throw new ForbiddenException(
    outside === null
      ? `${without} a plan may back up only your own mailboxes: list them`
      : `${without} a plan may back up only your own mailboxes; not yours: ${outside.join(', ')}`,
  );
}
