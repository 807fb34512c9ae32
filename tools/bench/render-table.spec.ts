import { describe, expect, it } from 'vitest';
import { TABLE_END, TABLE_START, renderBenchTable, replaceBenchSection } from './render-table.js';
import { sampleBackupResult } from './__tests__/sample-result.js';

describe('README benchmark table', () => {
  it('shows the figure beside its ceilings, S3 requests, CPU, largest MLR peak RSS and targets, one row per result', () => {
    const table = renderBenchTable([sampleBackupResult()]);
    const [header, , row] = table.split('\n');
    expect(header).toBe(
      '| benchmark | workload | figure | ceilings (same run) | S3 requests / 1,000 | CPU (process tree) | largest MLR peak RSS | targets met | run |',
    );
    expect(row).toBe(
      '| backup `1x500x50KiB` | 1 tenant, 500 messages of ~50 KiB | **87.1 messages/s** (4.4 MB/s), backed up end to end | ' +
        'IMAP FETCH: 3,012 messages/s, 152 MB/s | 2,000.0 | 7.8 CPU s = 68% of 2 cores (machine 89% busy) | storage 425 MiB | ' +
        '0 of 3 (missed: messages/s end to end, S3 requests per 1,000 messages (at RGW), peak RSS of 1 MLR process) | 2026-12-06, `c5e8441d` |',
    );
    expect(table).toContain('Every row ran durable');
    expect(table).toContain('npm run bench:table');
  });

  it('orders backup before restore before search, scenarios by size, and marks a failed run', () => {
    const table = renderBenchTable([
      sampleBackupResult({ bench: 'restore', scenario: '1x2000x50KiB' }),
      sampleBackupResult({ scenario: '1x20000x10KiB' }),
      sampleBackupResult({ scenario: '1x2000x50KiB', ok: false, failures: ['job ended failed'] }),
    ]);
    const rows = table.split('\n').slice(2, 5);
    expect(rows.map((row) => row.split(' | ')[0])).toEqual([
      '| backup `1x2000x50KiB` **FAILED**',
      '| backup `1x20000x10KiB`',
      '| restore `1x2000x50KiB`',
    ]);
  });

  it('says when a row did not run durable, and when RGW counted requests its ops log does not show', () => {
    const fast = sampleBackupResult({ settings: { ...sampleBackupResult().settings, durable: false } });
    const unlogged = sampleBackupResult({ s3: { ...sampleBackupResult().s3!, rgwRequests: 1003 } });
    expect(renderBenchTable([fast])).toContain('Not every row ran durable');
    expect(renderBenchTable([unlogged])).toContain('2,000.0 (RGW counted 1,003 requests, the ops log 1,000)');
  });

  it('says how much CPU time the hypervisor took from the machine during the run', () => {
    const stolen = sampleBackupResult({ cpu: { ...sampleBackupResult().cpu, machineStealSeconds: 1.25 } });
    expect(renderBenchTable([stolen])).toContain('(machine 89% busy, 1.3 CPU s stolen by the hypervisor)');
  });

  it('replaces only the part between the markers', () => {
    const readme = `# MLR\n\n## Benchmarks\n\n${TABLE_START}\n\nold table\n\n${TABLE_END}\n\n## Tests\n`;
    expect(replaceBenchSection(readme, 'new table')).toBe(
      `# MLR\n\n## Benchmarks\n\n${TABLE_START}\n\nnew table\n\n${TABLE_END}\n\n## Tests\n`,
    );
    expect(() => replaceBenchSection('# MLR\n', 'table')).toThrow(/no .* section/);
  });
});
