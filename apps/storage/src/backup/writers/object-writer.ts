/** A sealed object on its way into S3: in memory, or read piece by piece when it is large. */
export interface MemberToStore {
  contentId: string;
  keyId: string;
  plainSize: number;
  sealedSize: number;
  /** The sealed bytes, when they are held in memory. */
  bytes?: Buffer;
  /** Otherwise: reads them, in order, each time it is called (the bytes were checked before). */
  read?: () => AsyncIterable<Buffer>;
}

/** What became of one member: the stored object that holds its content, and whether this write made it. */
export interface StoredMember {
  objectId: string;
  objectStored: 'new' | 'deduplicated';
}

/**
 * Makes sealed objects of one tenant durable in S3 and records them. Resolves with one result per
 * member, in order: a StoredMember once it is durable and recorded, or the Error that kept it from
 * being so (worth a retry: the store or the database failed).
 */
export interface ObjectWriter {
  /** `onPlaced` is called once every member is taken in (a member may first wait for room). */
  store(
    tenantId: string,
    members: readonly MemberToStore[],
    options?: { onPlaced?: () => void },
  ): Promise<Array<StoredMember | Error>>;
  /** Nothing more is coming soon for the tenant: what is held for it is written now. */
  flush(tenantId: string): void;
}

/** Retention of newly written objects (Object Lock). */
export interface RetentionPolicy {
  days: number;
  mode: 'GOVERNANCE' | 'COMPLIANCE';
}

/** The retention of a tenant's new objects: one policy for all, or asked per tenant. */
export type TenantRetention = RetentionPolicy | ((tenantId: string) => RetentionPolicy | undefined);

export function retentionFor(retention: TenantRetention | undefined, tenantId: string): RetentionPolicy | undefined {
  return typeof retention === 'function' ? retention(tenantId) : retention;
}

/**
 * The retention storage writes a tenant's objects with: the platform's (STORAGE_RETENTION_DAYS, or
 * none: the bucket's default retention applies), unless the tenant's default (set by the operator)
 * is longer than both the platform's and the bucket's default — it never shortens them.
 */
export function objectRetention(
  platform: RetentionPolicy | undefined,
  bucketDefaultDays: number | undefined,
  tenantDays: number | null | undefined,
  mode: RetentionPolicy['mode'],
): RetentionPolicy | undefined {
  if (tenantDays === null || tenantDays === undefined) return platform;
  const floor = Math.max(platform?.days ?? 0, bucketDefaultDays ?? 0);
  return tenantDays > floor ? { days: tenantDays, mode: platform?.mode ?? mode } : platform;
}

const DAY_MS = 24 * 3_600_000;

export function retainUntil(policy: RetentionPolicy | undefined, now: Date): Date | null {
  return policy ? new Date(now.getTime() + policy.days * DAY_MS) : null;
}

/**
 * The same content asked for again while its first write is under way shares that write: one
 * object per tenant and content id, whichever batches ask for it.
 */
export class InFlightMembers {
  private readonly writes = new Map<string, Promise<StoredMember>>();

  /** The write under way for the content, answered as a deduplicated member. */
  joining(tenantId: string, contentId: string): Promise<StoredMember> | undefined {
    const write = this.writes.get(`${tenantId}/${contentId}`);
    return write?.then((stored) => ({ objectId: stored.objectId, objectStored: 'deduplicated' }));
  }

  track(tenantId: string, contentId: string, write: Promise<StoredMember>): Promise<StoredMember> {
    const key = `${tenantId}/${contentId}`;
    this.writes.set(key, write);
    const forget = () => {
      if (this.writes.get(key) === write) this.writes.delete(key);
    };
    write.then(forget, forget);
    return write;
  }
}
