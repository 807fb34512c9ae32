/** Most problems a message can collect; past this the list ends with a count of the rest. */
const MAX_PROBLEMS = 40;

/** Collects short, de-duplicated notes on what could not be parsed. */
export class ProblemLog {
  private readonly seen = new Set<string>();
  private readonly list: string[] = [];
  private dropped = 0;

  add(problem: string): void {
    if (this.seen.has(problem)) return;
    this.seen.add(problem);
    if (this.list.length < MAX_PROBLEMS) this.list.push(problem);
    else this.dropped++;
  }

  get size(): number {
    return this.list.length + this.dropped;
  }

  toArray(): string[] {
    return this.dropped > 0 ? [...this.list, `${this.dropped} more problems not listed`] : [...this.list];
  }
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

/** A short, printable excerpt of untrusted text for a problem message. */
export function excerpt(text: string, max = 60): string {
  const printable = text.replace(CONTROL, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return `"${printable.length > max ? `${printable.slice(0, max)}…` : printable}"`;
}
