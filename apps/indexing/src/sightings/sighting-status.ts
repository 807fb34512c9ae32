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
  sighting_source: string;
  sighting_epoch: string;
  sighting_id: string;
  content_id: string;
  id: string;
  backup_job_id: string | null;
}

/** The index records at the places of `sightings` (one per place at most: the table's unique key). */
export function sightingRowsStatement(tenantId: string, sightings: readonly Sighting[]): Prisma.Sql {
  return Prisma.sql`
SELECT r.mailbox, r.folder, r.sighting_source, r.sighting_epoch, r.sighting_id, r.content_id, r.id, r.backup_job_id
FROM unnest(${sightings.map((s) => s.mailbox)}::text[], ${sightings.map((s) => s.folder)}::text[],
            ${sightings.map((s) => s.sourceKey.source)}::text[], ${sightings.map((s) => s.sourceKey.epoch)}::text[],
            ${sightings.map((s) => s.sourceKey.id)}::text[])
     AS asked(mailbox, folder, sighting_source, sighting_epoch, sighting_id)
JOIN index_records r
  ON r.tenant_id = ${tenantId} AND r.mailbox = asked.mailbox AND r.folder = asked.folder
 AND r.sighting_source = asked.sighting_source AND r.sighting_epoch = asked.sighting_epoch
 AND r.sighting_id = asked.sighting_id`;
}

const placeKey = (mailbox: string, folder: string, source: string, epoch: string, id: string) =>
  JSON.stringify([mailbox, folder, source, epoch, id]);

/**
 * The answer to `sightings.status`: `indexed` where the index holds a record of the sighting's place
 * with the sighting's content (its object was stored before it was indexed), else `unknown` — no
 * record there, or one of other content (the message at that key is not the one asked about).
 */
export function sightingStatus(sightings: readonly Sighting[], rows: readonly SightingRow[]): SightingStatusResponse {
  const found = new Map(
    rows.map((row) => [
      placeKey(row.mailbox, row.folder, row.sighting_source, row.sighting_epoch, row.sighting_id),
      row,
    ]),
  );
  return {
    sightings: sightings.map((sighting) => {
      const { source, epoch, id } = sighting.sourceKey;
      const row = found.get(placeKey(sighting.mailbox, sighting.folder, source, epoch, id));
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
