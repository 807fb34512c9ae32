"""Reads items MLR wrote with parsers other than MLR's own and prints what they found, as JSON.

Independent parsers (issue 15): Python's `email` for RFC 5322, `icalendar` for iCalendar, `vobject` for
vCard. Usage: parse_items.py FILE... (the extension names the form: .eml, .ics, .vcf).
"""
import email
import email.policy
import json
import sys

import icalendar
import vobject


def ical(path):
    with open(path, 'rb') as f:
        cal = icalendar.Calendar.from_ical(f.read())
    out = {'prodid': str(cal.get('prodid')), 'components': []}
    for comp in cal.subcomponents:
        item = {'type': comp.name}
        for key in ('uid', 'summary', 'description', 'location', 'status', 'rrule', 'percent-complete', 'priority'):
            if key in comp:
                value = comp.get(key)
                item[key] = value.to_ical().decode() if hasattr(value, 'to_ical') and key == 'rrule' else str(value)
        for key in ('dtstart', 'dtend', 'due', 'completed', 'dtstamp'):
            if key in comp:
                value = comp.decoded(key)
                item[key] = value.isoformat()
                tzid = comp.get(key).params.get('TZID')
                if tzid:
                    item[key + '_tzid'] = str(tzid)
        if 'exdate' in comp:
            ex = comp.get('exdate')
            ex = ex if isinstance(ex, list) else [ex]
            item['exdate'] = [d.dt.isoformat() for e in ex for d in e.dts]
        if 'organizer' in comp:
            org = comp.get('organizer')
            item['organizer'] = {'uri': str(org), 'cn': str(org.params.get('CN', ''))}
        if 'attendee' in comp:
            atts = comp.get('attendee')
            atts = atts if isinstance(atts, list) else [atts]
            item['attendees'] = [
                {'uri': str(a), 'cn': str(a.params.get('CN', '')), 'role': str(a.params.get('ROLE', '')),
                 'partstat': str(a.params.get('PARTSTAT', ''))} for a in atts]
        if 'categories' in comp:
            cats = comp.get('categories')
            cats = cats if isinstance(cats, list) else [cats]
            item['categories'] = [str(c) for cat in cats for c in cat.cats]
        out['components'].append(item)
    return out


def vcard(path):
    with open(path, 'r', encoding='utf-8', newline='') as f:
        card = vobject.readOne(f.read())
    out = {}
    for key in ('uid', 'fn', 'org', 'title', 'note', 'bday', 'rev', 'kind'):
        if hasattr(card, key):
            value = getattr(card, key).value
            out[key] = value if isinstance(value, str) else list(value)
    if hasattr(card, 'n'):
        n = card.n.value
        out['n'] = [n] if isinstance(n, str) else [getattr(n, 'family', ''), getattr(n, 'given', '')]
        if isinstance(n, str):
            out['n'] = n.split(';')
    out['emails'] = [e.value for e in card.contents.get('email', [])]
    out['tels'] = [t.value for t in card.contents.get('tel', [])]
    out['adrs'] = [str(a.value) for a in card.contents.get('adr', [])]
    out['members'] = [m.value for m in card.contents.get('member', [])]
    out['categories'] = [c for cat in card.contents.get('categories', []) for c in cat.value]
    return out


def rfc5322(path):
    with open(path, 'rb') as f:
        msg = email.message_from_binary_file(f, policy=email.policy.default)
    defects = [type(d).__name__ for d in msg.defects]
    body = msg.get_body(preferencelist=('plain',))
    return {
        'from': str(msg['from']), 'to': str(msg['to']), 'subject': str(msg['subject']), 'date': str(msg['date']),
        'message_id': str(msg['message-id']), 'item_type': str(msg['x-mlr-item-type']),
        'caller': str(msg['x-mlr-caller']) if msg['x-mlr-caller'] else None,
        'number': str(msg['x-mlr-caller-number']) if msg['x-mlr-caller-number'] else None,
        'flags': str(msg['x-mlr-phone-flags']) if msg['x-mlr-phone-flags'] else None,
        'body': body.get_content() if body is not None else None, 'defects': defects,
    }


def main():
    result = {}
    for path in sys.argv[1:]:
        if path.endswith('.ics'):
            result[path] = ical(path)
        elif path.endswith('.vcf'):
            result[path] = vcard(path)
        else:
            result[path] = rfc5322(path)
    json.dump(result, sys.stdout, ensure_ascii=False)


main()
