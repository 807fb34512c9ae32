import type { Importance, ItemType } from '@mlr/contracts';
import { fieldLatin1, findField, type HeaderBlock } from './header-block.js';
import type { HeaderText } from './header-text.js';
import { cleanText } from './header-text.js';
import { excerpt, type ProblemLog } from './problems.js';
import type { OuterStructure } from './structure.js';

function fieldValue(buf: Buffer, block: HeaderBlock, name: string): string | null {
  const field = findField(block, name);
  return field ? fieldLatin1(buf, field).trim() : null;
}

function wordImportance(value: string): Importance | null {
  const v = value.toLowerCase();
  if (/^(high|urgent|highest)\b/.test(v)) return 'high';
  if (/^(low|non-urgent|lowest)\b/.test(v)) return 'low';
  if (/^(normal|medium)\b/.test(v)) return 'normal';
  return null;
}

/**
 * Importance from the headers mailers use for it, most specific first: Importance (RFC 2156),
 * X-Priority (1-2 high, 3 normal, 4-5 low), Priority (RFC 2156: urgent/normal/non-urgent),
 * X-MSMail-Priority.
 */
export function importanceOf(buf: Buffer, block: HeaderBlock, problems: ProblemLog): Importance {
  const candidates: [string, string][] = [
    ['importance', 'Importance'],
    ['x-priority', 'X-Priority'],
    ['priority', 'Priority'],
    ['x-msmail-priority', 'X-MSMail-Priority'],
  ];
  for (const [name, label] of candidates) {
    const value = fieldValue(buf, block, name);
    if (value === null || value === '') continue;
    if (name === 'x-priority') {
      const digit = /^\s*([1-5])\b/.exec(value)?.[1];
      if (digit) return digit <= '2' ? 'high' : digit === '3' ? 'normal' : 'low';
    }
    const word = wordImportance(value);
    if (word) return word;
    problems.add(`unrecognised ${label} value ${excerpt(value, 30)}`);
  }
  return 'normal';
}

/** Outlook's follow-up request: the X-Message-Flag text (or a plain Flag header), null when absent. */
export function followUpOf(block: HeaderBlock, text: HeaderText): string | null {
  for (const [name, label] of [
    ['x-message-flag', 'X-Message-Flag'],
    ['flag', 'Flag'],
  ] as const) {
    const field = findField(block, name);
    if (!field) continue;
    const value = cleanText(text.unstructured(field, label));
    if (value) return value;
  }
  return null;
}

/**
 * Maps what a message says about itself onto the index's item types: MLR's own X-MLR-Item-Type (phone
 * messages and notifications it wrote), Exchange's Content-Class and
 * RFC 3458 Message-Context first, then delivery/read reports (notification), calendar parts with a
 * METHOD (appointment; task for VTODO, note for VJOURNAL), a bare vCard (contact), else mail.
 */
export function itemTypeOf(buf: Buffer, block: HeaderBlock, outer: OuterStructure): ItemType {
  // Written by MLR itself (libs/pim) for mail-like items a source held as fields. Such a message never
  // travelled through a mail server; one that did (it has a Received field) was written by a sender,
  // who does not decide what kind of item it is.
  const own = fieldValue(buf, block, 'x-mlr-item-type')?.toLowerCase();
  if ((own === 'phone_message' || own === 'notification') && !findField(block, 'received')) return own;
  const contentClass = fieldValue(buf, block, 'content-class')?.toLowerCase() ?? '';
  if (contentClass.includes('calendarmessage')) return 'appointment';
  if (contentClass.includes('voice')) return 'phone_message';
  if (contentClass.includes('dsn') || contentClass.includes('mdn')) return 'notification';
  if (contentClass.includes('fax')) return 'other';
  const context = fieldValue(buf, block, 'message-context')?.toLowerCase() ?? '';
  if (context.startsWith('voice-message')) return 'phone_message';
  if (context.startsWith('fax-message')) return 'other';
  if (fieldValue(buf, block, 'x-uniform-type-identifier')?.toLowerCase() === 'com.apple.mail-note') return 'note';

  if (outer.reportType !== null) return 'notification';
  if (
    outer.rootType === 'message/delivery-status' ||
    outer.rootType === 'message/global-delivery-status' ||
    outer.rootType === 'message/disposition-notification'
  ) {
    return 'notification';
  }
  const calendar = outer.calendar;
  if (calendar !== null && calendar.method !== null) {
    if (calendar.component === 'VTODO') return 'task';
    if (calendar.component === 'VJOURNAL') return 'note';
    return 'appointment';
  }
  if (outer.rootType === 'text/vcard' || outer.rootType === 'text/x-vcard' || outer.rootType === 'text/directory') {
    return 'contact';
  }
  return 'mail';
}
