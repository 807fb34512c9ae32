import type { UsageReport } from '@mlr/contracts';

const COLUMNS = [
  'generatedAt',
  'tenantId',
  'slug',
  'name',
  'mlrEnabled',
  'protectedMailboxes',
  'storedObjects',
  'storedBytes',
] as const;

/**
 * One CSV field (RFC 4180): quoted when it holds a quote, comma or line break. Text that a
 * spreadsheet would run as a formula (=, +, -, @, tab, CR first) is prefixed with `'`.
 */
export function csvField(value: string | number | boolean): string {
  let text = String(value);
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** The usage report as CSV: a header line, then one line per tenant (CRLF line ends). */
export function usageCsv(report: UsageReport): string {
  const lines = [COLUMNS.join(',')];
  for (const row of report.tenants) {
    const values: Record<(typeof COLUMNS)[number], string | number | boolean> = {
      generatedAt: report.generatedAt,
      ...row,
    };
    lines.push(COLUMNS.map((column) => csvField(values[column])).join(','));
  }
  return `${lines.join('\r\n')}\r\n`;
}
