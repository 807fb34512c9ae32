import type { Prisma } from './generated/client.js';

/** Whether `error` is PostgreSQL's unique violation as Prisma reports it (P2002). */
export function isUniqueViolation(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === 'P2002';
}

/**
 * A connector is enrolled when its enrolment token was used, or when it never had one (provisioned
 * directly with its credentials, as the test fixtures and the demo do). One awaiting enrolment has
 * not checked its service account yet and runs nothing.
 */
export function isEnrolledConnector(connector: {
  enrolmentTokenUsedAt: Date | null;
  enrolmentTokenHash: string | null;
}): boolean {
  return connector.enrolmentTokenUsedAt !== null || connector.enrolmentTokenHash === null;
}

/** `isEnrolledConnector` as a query condition. */
export const enrolledConnectorWhere = {
  OR: [{ enrolmentTokenUsedAt: { not: null } }, { enrolmentTokenHash: null }],
} satisfies Prisma.ConnectorWhereInput;
