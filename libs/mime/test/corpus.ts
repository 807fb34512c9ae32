import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Real mail from other projects' test suites, beside the repository (read only). */
export const CORPUS_DIR = fileURLToPath(new URL('../../../../shared/corpus/', import.meta.url));

export interface CorpusEntry {
  /** Path relative to the corpus folder, as MANIFEST.tsv names it. */
  path: string;
  kind: string;
  notes: string;
}

export function corpusAvailable(): boolean {
  return existsSync(`${CORPUS_DIR}MANIFEST.tsv`);
}

/** Every corpus file of the given kind, in manifest order. */
export function corpusEntries(kind: string): CorpusEntry[] {
  const lines = readFileSync(`${CORPUS_DIR}MANIFEST.tsv`, 'utf8').split('\n').slice(1);
  return lines
    .filter((line) => line.trim().length > 0)
    .map((line) => {
      const cols = line.split('\t');
      return { path: cols[0] ?? '', kind: cols[5] ?? '', notes: cols[6] ?? '' };
    })
    .filter((entry) => entry.kind === kind);
}

export function readCorpusFile(path: string): Buffer {
  return readFileSync(`${CORPUS_DIR}${path}`);
}
