import type { BenchResult } from '../bench-result.js';

/** A backup result as a run on this machine writes it; `overrides` replace top-level fields. */
export function sampleBackupResult(overrides: Partial<BenchResult> = {}): BenchResult {
  return {
    version: 1,
    bench: 'backup',
    scenario: '1x500x50KiB',
    title: '1 tenant, 500 messages of ~50 KiB',
    ok: true,
    failures: [],
    startedAt: '2026-12-06T22:03:40.420Z',
    git: { commit: 'c5e8441d6a29f0e1b2c3d4e5f60718293a4b5c6d', dirty: false },
    machine: {
      node: 'v20.20.2',
      cpuModel: 'Intel Xeon',
      memoryMiB: 24105,
      cores: { online: 2, available: 2, cgroupQuota: null, effective: 2 },
    },
    settings: {
      durable: true,
      postgres: { fsync: 'on', synchronous_commit: 'on', full_page_writes: 'on' },
      s3: { objectStore: 'bluestore', requestCounting: "RGW's ops log" },
      nats: 'JetStream file store',
    },
    workload: { tenants: 1, messagesPerTenant: 500, messageBytes: 51200, messages: 500, totalBytes: 25_166_600 },
    headline: { label: 'backed up end to end', value: 87.14, unit: 'messages/s' },
    achieved: { items: 500, expected: 500, unit: 'messages' },
    seconds: 5.738,
    mbPerSecond: 4.386,
    ceilings: [
      {
        name: 'IMAP FETCH',
        what: 'raw IMAP FETCH BODY.PEEK[] of the same mailbox',
        value: 3012.4,
        unit: 'messages/s',
        items: 500,
        bytes: 25_166_600,
        seconds: 0.166,
        mbPerSecond: 151.6,
      },
    ],
    s3: {
      total: 1000,
      perThousand: 2000,
      byKind: { 'PUT object': 500, 'HEAD object': 500 },
      failed: 500,
      bytesReceived: 25_300_000,
      bytesSent: 0,
      rgwRequests: 1000,
    },
    cpu: {
      treeSeconds: 7.8,
      shareOfCores: 0.68,
      machineBusySeconds: 10.2,
      machineBusyShare: 0.89,
      groups: [
        {
          name: 'storage',
          processes: 1,
          cpuSeconds: 3.27,
          shareOfCores: 0.285,
          peakRssMiB: 425,
          windowPeakRssMiB: 210,
          mlr: true,
        },
        {
          name: 'postgres',
          processes: 23,
          cpuSeconds: 0.32,
          shareOfCores: 0.028,
          peakRssMiB: 32,
          windowPeakRssMiB: 30,
          mlr: false,
        },
      ],
    },
    jobs: [
      {
        tenantId: 'bench',
        jobId: '5dbcb295-34e6-4c3c-bb4b-ed1f331f9505',
        state: 'succeeded',
        counters: { seen: 500, new: 500, failed: 0 },
        seconds: 5.7,
      },
    ],
    verification: [{ check: 'index records in PostgreSQL for bench/bench', expected: 500, actual: 500, ok: true }],
    targets: [
      { name: 'messages/s end to end', target: '≥ 500', actual: '87.1', met: false },
      { name: 'peak RSS of storage', target: '< 250 MiB', actual: '425 MiB', met: false },
      { name: 'S3 requests per 1,000 messages (at RGW)', target: '≤ 20', actual: '2,000.0', met: false },
    ],
    ...overrides,
  };
}
