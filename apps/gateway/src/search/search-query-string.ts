import type { SearchQueryInput } from '@mlr/contracts';

type FieldKind = 'boolean' | 'integer' | 'list';

/** Fields of the search whose query-string form is not a plain string. */
const FIELD_KINDS: Partial<Record<keyof SearchQueryInput, FieldKind>> = {
  seen: 'boolean',
  answered: 'boolean',
  flagged: 'boolean',
  followUp: 'boolean',
  hasAttachment: 'boolean',
  recurring: 'boolean',
  callback: 'boolean',
  urgent: 'boolean',
  minSize: 'integer',
  maxSize: 'integer',
  limit: 'integer',
  mailboxes: 'list',
};

function typed(kind: FieldKind | undefined, value: unknown): unknown {
  switch (kind) {
    case 'list':
      // Repeated parameters (`mailboxes=a&mailboxes=b`) arrive as an array, a single one as a string.
      return typeof value === 'string' ? [value] : value;
    case 'boolean':
      return value === 'true' ? true : value === 'false' ? false : value;
    case 'integer':
      return typeof value === 'string' && /^-?\d{1,15}$/.test(value) ? Number(value) : value;
    default:
      return value;
  }
}

/**
 * The search query of `GET .../search?...` in the types of the JSON body: booleans (`true`/`false`),
 * integers and lists. Anything that does not convert is passed on as it came, so that the schema
 * names the field and what it expected; unknown fields too, so that they are refused by name.
 */
export function searchQueryFromQueryString(query: unknown): Record<string, unknown> {
  if (typeof query !== 'object' || query === null) return {};
  return Object.fromEntries(
    Object.entries(query).map(([key, value]) => [key, typed(FIELD_KINDS[key as keyof SearchQueryInput], value)]),
  );
}
