import { fileURLToPath } from 'node:url';

/** The repository root, whatever the current directory. */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** Real mail from other projects' test suites, beside the repository (read only). */
export const CORPUS_DIR = fileURLToPath(new URL('../../../../shared/corpus/', import.meta.url));
