import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The shared mail corpus lives beside the repository: <repo>/../shared/corpus. */
export const CORPUS_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../../../../shared/corpus');

export function corpusFiles(subdir?: string): string[] {
  const root = subdir ? join(CORPUS_DIR, subdir) : CORPUS_DIR;
  if (!existsSync(root)) throw new Error(`mail corpus not found at ${root}`);
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (dir !== CORPUS_DIR) files.push(path);
    }
  };
  walk(root);
  return files;
}

/** Real mail text, concatenated: the raw material of large mail-like test messages. */
export function corpusText(subdir = 'cpython-test_email'): Buffer {
  return Buffer.concat(corpusFiles(subdir).map((file) => readFileSync(file)));
}

/** Deterministic pseudo-random bytes (SHA-256 in counter mode): reproducible "attachments". */
export function pseudoRandom(length: number, seed = 'seed'): Buffer {
  const out = Buffer.alloc(length);
  for (let offset = 0, counter = 0; offset < length; offset += 32, counter++) {
    createHash('sha256').update(`${seed}/${counter}`).digest().copy(out, offset);
  }
  return out;
}

/** `length` bytes of `source` repeated. */
export function repeatToLength(source: Buffer, length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let offset = 0; offset < length; offset += source.length) source.copy(out, offset);
  return out;
}
