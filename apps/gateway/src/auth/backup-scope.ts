import { ForbiddenException } from '@nestjs/common';
import type { PlanInput } from '@mlr/contracts';
import { requesterOf } from '../http/requester.js';
import type { ServiceClient } from '../services/service-client.js';
import { principalOf, type AuthenticatedRequest } from './principal.js';

/**
 * A backup plan's mailboxes must be within what the person who sets them may reach: operators set
 * up backups for their tenants (they never see the content); a tenant admin chooses any mailbox only
 * while the tenant's connectors have "Receive As", otherwise only their own mailboxes, by name.
 */
export async function checkBackupScope(
  request: AuthenticatedRequest,
  services: ServiceClient,
  mailboxes: PlanInput['mailboxes'],
): Promise<void> {
  if (principalOf(request).role === 'operator') return;
  const { visibleMailboxes } = await requesterOf(request, services);
  if (visibleMailboxes === 'all') return;
  if (mailboxes.kind === 'all') {
    throw new ForbiddenException(
      'without "Receive As" on the tenant\'s connectors a plan may back up only your own mailboxes: list them',
    );
  }
  const visible = new Set(visibleMailboxes);
  const outside = mailboxes.mailboxes.filter((mailbox) => !visible.has(mailbox.toLowerCase()));
  if (outside.length > 0) {
    throw new ForbiddenException(
      `without "Receive As" on the tenant's connectors a plan may back up only your own mailboxes; not yours: ${outside.join(', ')}`,
    );
  }
}
