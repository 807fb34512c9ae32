import { describe, expect, it } from 'vitest';
import { csvField, usageCsv } from './usage-csv.js';

describe('usage CSV', () => {
  it('quotes only what needs quoting and defuses formulas', () => {
    expect(csvField('Acme')).toBe('Acme');
    expect(csvField('Acme, Inc.')).toBe('"Acme, Inc."');
    expect(csvField('The "Best" MSP')).toBe('"The ""Best"" MSP"');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    expect(csvField('=HYPERLINK("x")')).toBe(`"'=HYPERLINK(""x"")"`);
    expect(csvField('-1')).toBe("'-1");
    expect(csvField(-1)).toBe('-1');
    expect(csvField(true)).toBe('true');
  });

  it('writes a header and one line per tenant', () => {
    const csv = usageCsv({
      generatedAt: '2026-06-01T00:00:00.000Z',
      windowDays: 30,
      tenants: [
        {
          tenantId: 't-1',
          slug: 'acme',
          name: 'Acme, Inc.',
          mlrEnabled: true,
          protectedMailboxes: 2,
          storedObjects: 3,
          storedBytes: 4096,
        },
      ],
      totals: { tenants: 1, mlrTenants: 1, protectedMailboxes: 2, storedObjects: 3, storedBytes: 4096 },
      limits: null,
      warnings: [],
    });
    expect(csv).toBe(
      'generatedAt,tenantId,slug,name,mlrEnabled,protectedMailboxes,storedObjects,storedBytes\r\n' +
        '2026-06-01T00:00:00.000Z,t-1,acme,"Acme, Inc.",true,2,3,4096\r\n',
    );
  });
});
