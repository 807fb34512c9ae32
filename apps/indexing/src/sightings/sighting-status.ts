import type { BeforeApplicationShutdown, OnApplicationBootstrap } from '@nestjs/common';
import { Prisma, type PrismaClient } from '@mlr/db';
import {
  STREAMS,
  subjects,
  tenantCallWildcards,
  type SightingStatusRequest,
  type SightingStatusResponse,
} from '@mlr/contracts';
import { tenantCallServer, type MessagingConnection, type Responder } from '@mlr/messaging';

/** Queue group: one indexing replica answers each question. */
export const SIGHTING_STATUS_QUEUE = 'indexing';

type Sighting = SightingStatusRequest['sightings'][number];

export interface SightingRow {
  mailbox: string;
  folder: string;
  uid_validity: bigint | string;
  uid: bigint | string;
  content_id: string;
  id: string;
  backup_job_id: string | null;
}

/** The index records at the places of `sightings` (one per place at most: the table's unique key). */
export function sightingRowsStatement(tenantId: string, sightings: readonly Sighting[]): Prisma.Sql {
  return Prisma.sql`
SELECT r.mailbox, r.folder, r.uid_validity, r.uid, r.content_id, r.id, r.backup_job_id
FROM unnest(${sightings.map((s) => s.mailbox)}::text[], ${sightings.map((s) => s.folder)}::text[],
            ${sightings.map((s) => s.uidValidity)}::bigint[], ${sightings.map((s) => s.uid)}::bigint[])
     AS asked(mailbox, folder, uid_validity, uid)
JOIN index_records r
  ON r.tenant_id = ${tenantId} AND r.mailbox = asked.mailbox AND r.folder = asked.folder
 AND r.uid_validity = asked.uid_validity AND r.uid = asked.uid`;
}

const placeKey = (mailbox: string, folder: string, uidValidity: string, uid: number | string) =>
  JSON.stringify([mailbox, folder, String(uidValidity), String(uid)]);

/**
 * The answer to `sightings.status`: `indexed` where the index holds a record of the sighting's place
 * with the sighting's content (its object was stored before it was indexed), else `unknown` — no
 * record there, or one of other content (the message at that UID is not the one asked about).
 */
export function sightingStatus(sightings: readonly Sighting[], rows: readonly SightingRow[]): SightingStatusResponse {
  const found = new Map(
    rows.map((row) => [placeKey(row.mailbox, row.folder, String(row.uid_validity), String(row.uid)), row]),
  );
  return {
    sightings: sightings.map((sighting) => {
      const row = found.get(placeKey(sighting.mailbox, sighting.folder, sighting.uidValidity, sighting.uid));
      return row && row.content_id === sighting.contentId
        ? { ...sighting, state: 'indexed' as const, recordId: row.id, backupJobId: row.backup_job_id }
        : { ...sighting, state: 'unknown' as const };
    }),
  };
}

/**
 * Those of `sequences` whose commit batch still waits in the commit stream (a work queue: storage
 * removes a batch once it has stored it) on the tenant's own subject; another tenant's sequence is
 * never reported, so that the answer says nothing about anyone else's commits.
 */
export async function waitingCommits(
  messaging: MessagingConnection,
  tenantId: string,
  sequences: readonly number[],
): Promise<number[]> {
  const jsm = await messaging.manager();
  const subject = subjects.objects(tenantId);
  const waiting: number[] = [];
  for (const seq of [...new Set(sequences)].sort((a, b) => a - b)) {
    const message = await jsm.streams.getMessage(STREAMS.objects.name, { seq });
    if (message?.subject === subject) waiting.push(seq);
  }
  return waiting;
}

/**
 * Serves the tenant call `sightings.status` (`mlr.<tenant>.sightings`) for every tenant: a connector
 * asks what became of sightings whose acknowledgement it missed, and which of their commits still
 * wait for storage. The tenant-call validator has
 * refused a request naming another tenant than its subject's, and NATS lets a connector publish
 * only on its own tenant's subject.
 */
export class SightingStatusServer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private responder: Responder | undefined;

  constructor(
    private readonly messaging: MessagingConnection,
    private readonly prisma: PrismaClient,
  ) {}

  onApplicationBootstrap(): void {
    this.responder = tenantCallServer(this.messaging, { queue: SIGHTING_STATUS_QUEUE }).serve(
      'sightings.status',
      tenantCallWildcards['sightings.status'],
      async (request) => {
        const answer = sightingStatus(
          request.sightings,
          await this.prisma.$queryRaw<SightingRow[]>(sightingRowsStatement(request.tenantId, request.sightings)),
        );
        if (!request.commits?.length) return answer;
        return { ...answer, waitingCommits: await waitingCommits(this.messaging, request.tenantId, request.commits) };
      },
    );
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.responder?.stop();
  }
}
