/**
 * An IMAP sequence set for `uids` (ascending or not): runs of consecutive UIDs as ranges
 * (`1:500,502,510:900`). A folder's new messages are mostly one run; listed one by one, 20,000 UIDs
 * make a command of ~120 KB, which servers refuse (Dovecot: 64 KiB per command line).
 */
export function uidSet(uids: readonly number[]): string {
  if (uids.length === 0) throw new RangeError('an IMAP UID set needs at least one UID');
  const sorted = [...uids].sort((a, b) => a - b);
  const parts: string[] = [];
  let start = sorted[0] as number;
  let previous = start;
  const close = () => parts.push(start === previous ? `${start}` : `${start}:${previous}`);
  for (const uid of sorted.slice(1)) {
    if (uid === previous || uid === previous + 1) {
      previous = uid;
      continue;
    }
    close();
    start = uid;
    previous = uid;
  }
  close();
  return parts.join(',');
}
