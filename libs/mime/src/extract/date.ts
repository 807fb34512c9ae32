export interface DateResult {
  /** ISO 8601 UTC date-time, null when the value could not be read. */
  iso: string | null;
  /** Set when the date was read but not from RFC 5322 syntax, or with an assumption. */
  note: string | null;
}

const MONTHS: Record<string, number> = {
  jan: 0, feb: 1, mar: 2, apr: 3, may: 4, jun: 5, jul: 6, aug: 7, sep: 8, oct: 9, nov: 10, dec: 11,
}; // prettier-ignore

const DAY_NAMES = new Set(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']);

/** Zone names RFC 5322 (obs-zone) and common practice use, as minutes east of UTC. */
const ZONES: Record<string, number> = {
  ut: 0, utc: 0, gmt: 0, z: 0, wet: 0,
  est: -300, edt: -240, cst: -360, cdt: -300, mst: -420, mdt: -360, pst: -480, pdt: -420,
  cet: 60, cest: 120, met: 60, mest: 120, eet: 120, eest: 180, bst: 60, ist: 330, jst: 540, kst: 540,
  hkt: 480, sgt: 480, aest: 600, aedt: 660, nzst: 720, nzdt: 780,
}; // prettier-ignore

/** RFC 5322 date-time, obsolete forms (two-digit years, zone names) included. */
const STRICT_RFC5322 =
  /^(?:(?:mon|tue|wed|thu|fri|sat|sun),?\s*)?\d{1,2}\s+(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)\s+\d{2,4}\s+\d{1,2}:\d{2}(?::\d{2})?\s+(?:[+-]\d{4}|ut|gmt|[ecmp][sd]t|[a-ik-z])$/i;

const MIN_YEAR = 1900;
const MAX_YEAR = 9999;

function stripComments(value: string): string {
  let out = '';
  let depth = 0;
  for (const c of value) {
    if (c === '(') depth++;
    else if (c === ')' && depth > 0) depth--;
    else if (depth === 0) out += c;
  }
  return out;
}

function zoneOffset(token: string): number | null {
  const m = /^(?:gmt|utc|ut)?([+-])(\d{1,2}?):?(\d{2})?$/i.exec(token);
  if (m) {
    const hours = Number(m[2] || '0');
    const minutes = Number(m[3] ?? '0');
    if (hours > 23 || minutes > 59) return null;
    return (m[1] === '-' ? -1 : 1) * (hours * 60 + minutes);
  }
  const named = ZONES[token.toLowerCase()];
  return named ?? null;
}

function toIso(
  y: number,
  mo: number,
  d: number,
  h: number,
  mi: number,
  s: number,
  offset: number,
  ms = 0,
): string | null {
  if (y < MIN_YEAR || y > MAX_YEAR || mo < 0 || mo > 11 || d < 1 || d > 31) return null;
  if (h > 24 || mi > 59 || s > 60) return null;
  const base = Date.UTC(y, mo, d, 0, 0, 0);
  if (new Date(base).getUTCDate() !== d) return null; // 31 Feb and the like
  const time = base + ((h * 60 + mi - offset) * 60 + Math.min(s, 59)) * 1000 + ms;
  const date = new Date(time);
  const year = date.getUTCFullYear();
  if (Number.isNaN(time) || year < MIN_YEAR || year > MAX_YEAR) return null;
  return date.toISOString();
}

function fraction(digits: string | undefined): number {
  return digits ? Math.floor(Number(`0${digits}`) * 1000) : 0;
}

function fullYear(token: string): number {
  const y = Number(token);
  if (token.length === 2) return y < 50 ? 2000 + y : 1900 + y;
  if (token.length === 3) return 1900 + y;
  return y;
}

/**
 * Reads a Date header: RFC 5322 and its obsolete forms, then the shapes mailers really write
 * (asctime, missing seconds or zone, month first, ISO 8601). Never throws.
 */
export function parseMailDate(value: string): DateResult {
  const text = stripComments(value).replace(/\s+/g, ' ').replace(/ ?: ?/g, ':').trim();
  if (!text) return { iso: null, note: null };
  const strict = STRICT_RFC5322.test(text);

  // ISO 8601, which some gateways write.
  const iso = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?\s*(Z|[+-]\d{2}:?\d{2})?$/i.exec(text);
  if (iso) {
    const offset = iso[8] ? (zoneOffset(iso[8]) ?? 0) : 0;
    const result = toIso(
      Number(iso[1]),
      Number(iso[2]) - 1,
      Number(iso[3]),
      Number(iso[4]),
      Number(iso[5]),
      Number(iso[6] ?? '0'),
      offset,
      fraction(iso[7]),
    );
    return { iso: result, note: result ? 'Date header in ISO 8601 rather than RFC 5322 form' : null };
  }

  const tokens = text.split(/[\s,]+/).filter((t) => t.length > 0);
  let day: number | null = null;
  let month: number | null = null;
  let year: number | null = null;
  let time: [number, number, number, number] | null = null;
  let offset: number | null = null;
  let unknown = 0;
  for (const raw of tokens) {
    const token = raw.replace(/\.$/, '');
    const lower = token.toLowerCase();
    const timeMatch = /^(\d{1,2}):(\d{1,2})(?::(\d{1,2}))?(\.\d+)?([+-]\d{4})?$/.exec(token);
    if (timeMatch && time === null) {
      time = [Number(timeMatch[1]), Number(timeMatch[2]), Number(timeMatch[3] ?? '0'), fraction(timeMatch[4])];
      if (timeMatch[5] && offset === null) offset = zoneOffset(timeMatch[5]);
      continue;
    }
    // "12-Jan-2003" and "12/Jan/2003"
    const dmy = /^(\d{1,2})[-/]([a-z]{3})[a-z]*[-/](\d{2,4})$/i.exec(token);
    if (dmy && day === null && month === null && year === null) {
      const m = MONTHS[(dmy[2] ?? '').toLowerCase()];
      if (m !== undefined) {
        day = Number(dmy[1]);
        month = m;
        year = fullYear(dmy[3] ?? '');
        continue;
      }
    }
    // "22:23:35 0000": a zone that lost its sign.
    if (/^\d{4}$/.test(token) && time !== null && year !== null && offset === null) {
      offset = zoneOffset(`+${token}`);
      unknown++;
      continue;
    }
    if (/^\d+$/.test(token)) {
      if (token.length <= 2 && day === null && (month === null || year === null)) day = Number(token);
      else if (year === null && token.length >= 2 && token.length <= 4) year = fullYear(token);
      else unknown++;
      continue;
    }
    if (
      /^[+-]\d{2}:?\d{2}$/.test(token) ||
      /^[+-]\d{3}$/.test(token) ||
      /^(?:gmt|utc|ut)[+-]\d{1,2}(?::?\d{2})?$/i.test(token)
    ) {
      if (offset === null) offset = zoneOffset(token);
      continue;
    }
    const monthKey = lower.slice(0, 3);
    const monthIndex = MONTHS[monthKey];
    if (month === null && monthIndex !== undefined && /^[a-z]+$/.test(lower)) {
      month = monthIndex;
      continue;
    }
    if (DAY_NAMES.has(monthKey) && /^[a-z]+$/.test(lower)) continue;
    if (/^[a-z]{1,5}$/.test(lower)) {
      const named = zoneOffset(lower);
      if (named !== null) {
        if (offset === null) offset = named;
        continue;
      }
      // Military single-letter zones are unreliable (RFC 5322 4.3): treat as unknown, -0000.
      if (lower.length === 1) {
        if (offset === null) offset = 0;
        continue;
      }
    }
    unknown++;
  }
  if (day === null || month === null || year === null || time === null) return { iso: null, note: null };
  const result = toIso(year, month, day, time[0], time[1], time[2], offset ?? 0, time[3]);
  if (result === null) return { iso: null, note: null };
  let note: string | null = null;
  if (offset === null)
    note =
      unknown > 0 ? 'Date header time zone unreadable (read as UTC)' : 'Date header has no time zone (read as UTC)';
  else if (!strict || unknown > 0) note = 'Date header not in RFC 5322 form (read leniently)';
  return { iso: result, note };
}
