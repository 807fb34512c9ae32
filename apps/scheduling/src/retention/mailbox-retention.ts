import { mailboxSelectionSchema } from '@mlr/contracts';

/** What the expiry needs of a plan (deleted plans are left out by the caller). */
export interface RetentionPlan {
  tenantId: string;
  connectorId: string;
  /** `mailboxSelectionSchema`: every mailbox of the connector, or a list. */
  mailboxSelection: unknown;
  /** Days to keep what it backed up; null = until deleted. */
  retentionDays: number | null;
}

/** How long a tenant's mailbox is kept: days, or null (until deleted). */
export type Retention = Map<string, number | null>;

/**
 * How long each mailbox of each tenant is kept, from the plans that back it up: the longest
 * retention of every plan that covers it (a plan of all mailboxes covers those its connector backs
 * up, `mailboxesOf`), and "until deleted" as soon as one of them keeps it that long. A mailbox no plan
 * covers (any more) is not in the answer: nothing of it expires; nor is a tenant one of whose plans
 * has a selection that cannot be read. Mailboxes in lower case, as the index compares them.
 */
export function mailboxRetention(
  plans: readonly RetentionPlan[],
  mailboxesOf: (connectorId: string) => readonly string[],
): Map<string, Retention> {
  const tenants = new Map<string, Retention>();
  // A plan whose selection cannot be read may be the one that keeps a mailbox longest: nothing of
  // its tenant expires until it is mended.
  const unreadable = new Set(
    plans
      .filter((plan) => !mailboxSelectionSchema.safeParse(plan.mailboxSelection).success)
      .map((plan) => plan.tenantId),
  );
  for (const plan of plans) {
    if (unreadable.has(plan.tenantId)) continue;
    const selection = mailboxSelectionSchema.safeParse(plan.mailboxSelection);
    if (!selection.success) continue;
    const mailboxes = selection.data.kind === 'all' ? mailboxesOf(plan.connectorId) : selection.data.mailboxes;
    const retention = tenants.get(plan.tenantId) ?? new Map<string, number | null>();
    tenants.set(plan.tenantId, retention);
    for (const name of mailboxes) {
      const mailbox = name.toLowerCase();
      const known = retention.get(mailbox);
      if (known === undefined) retention.set(mailbox, plan.retentionDays);
      else if (known !== null)
        retention.set(mailbox, plan.retentionDays === null ? null : Math.max(known, plan.retentionDays));
    }
  }
  return tenants;
}
