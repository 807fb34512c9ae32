import { constants } from 'node:fs';
import { access, open, rename, rm, writeFile, type FileHandle } from 'node:fs/promises';
import { basename } from 'node:path';
import { manifestPathOf, type ExportFormat, type ExportManifest, type ExportManifestEntry } from './export-manifest.js';

/** Most buffers one writev call takes (the system's IOV_MAX is 1024 on Linux). */
const MAX_IOVECS = 512;

async function exists(path: string): Promise<boolean> {
  try {
    await access(path, constants.F_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The file an export is written to: `<path>.partial` while it grows, renamed to `<path>` once it is
 * complete (with its manifest beside it), removed when the job fails. Writes happen one after the
 * other in the order they were asked for, so callers may add messages concurrently.
 */
export class ExportFile {
  private bytes = 0;
  private queue: Promise<unknown> = Promise.resolve();
  private state: 'open' | 'closed' | 'aborted' = 'open';
  /** A write that failed: what follows it in the file would be garbage, so nothing more is taken. */
  private failure: Error | undefined;

  private constructor(
    readonly path: string,
    private readonly format: ExportFormat,
    private readonly handle: FileHandle,
  ) {}

  static async create(path: string, format: ExportFormat): Promise<ExportFile> {
    if (await exists(path)) {
      throw new Error(`export file ${path} already exists; choose another file name or remove the old export`);
    }
    // A `.partial` left behind by an interrupted export of the same name is replaced.
    const partial = ExportFile.partialPath(path);
    const handle = await open(partial, 'w', 0o640).catch((error: NodeJS.ErrnoException) => {
      throw new Error(`cannot create export file ${partial}: ${error.message}`, { cause: error });
    });
    return new ExportFile(path, format, handle);
  }

  static partialPath(path: string): string {
    return `${path}.partial`;
  }

  get name(): string {
    return basename(this.path);
  }

  get size(): number {
    return this.bytes;
  }

  /** Runs `task` after every task queued before it (even failed ones); refuses once closed. */
  serial<T>(task: () => Promise<T>): Promise<T> {
    if (this.state !== 'open') {
      return Promise.reject(new Error(`export ${this.path} is already ${this.state}; nothing more can be added`));
    }
    const guarded = () => {
      if (this.failure) {
        return Promise.reject(new Error(`export ${this.path} failed earlier: ${this.failure.message}`));
      }
      return task();
    };
    const run = this.queue.then(guarded, guarded);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Appends `buffers` at the end of the file (call from within `serial`). */
  async append(buffers: Buffer[]): Promise<void> {
    for (let i = 0; i < buffers.length; i += MAX_IOVECS) {
      let batch = buffers.slice(i, i + MAX_IOVECS).filter((buffer) => buffer.length > 0);
      while (batch.length > 0) {
        try {
          const { bytesWritten } = await this.handle.writev(batch);
          this.bytes += bytesWritten;
          batch = skipWritten(batch, bytesWritten);
        } catch (error) {
          this.failure = new Error(`writing ${ExportFile.partialPath(this.path)} failed: ${(error as Error).message}`, {
            cause: error,
          });
          throw this.failure;
        }
      }
    }
  }

  /** Makes the file durable, renames it into place and writes the manifest beside it. */
  async finish(messages: ExportManifestEntry[]): Promise<{ path: string; count: number; bytes: number }> {
    await this.queue;
    if (this.state !== 'open') throw new Error(`export ${this.path} is already ${this.state}`);
    if (this.failure) throw new Error(`export ${this.path} failed earlier: ${this.failure.message}`);
    this.state = 'closed';
    await this.handle.sync();
    await this.handle.close();
    const manifest: ExportManifest = {
      format: this.format,
      file: this.name,
      createdAt: new Date().toISOString(),
      count: messages.length,
      bytes: this.bytes,
      messages,
    };
    const manifestPath = manifestPathOf(this.path);
    await writeFile(`${manifestPath}.partial`, `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o640 });
    if (await exists(this.path)) {
      throw new Error(
        `export file ${this.path} appeared while the export was written; the export stays in ${ExportFile.partialPath(this.path)}`,
      );
    }
    await rename(`${manifestPath}.partial`, manifestPath);
    await rename(ExportFile.partialPath(this.path), this.path);
    return { path: this.path, count: messages.length, bytes: this.bytes };
  }

  /** Stops and removes what was written. Safe to call more than once, and after a failed finish. */
  async abort(): Promise<void> {
    const wasOpen = this.state === 'open';
    this.state = 'aborted';
    await this.queue;
    if (wasOpen) await this.handle.close().catch(() => undefined);
    await rm(ExportFile.partialPath(this.path), { force: true });
    await rm(`${manifestPathOf(this.path)}.partial`, { force: true });
  }
}

function skipWritten(buffers: Buffer[], written: number): Buffer[] {
  let rest = written;
  const remaining: Buffer[] = [];
  for (const buffer of buffers) {
    if (rest >= buffer.length) {
      rest -= buffer.length;
      continue;
    }
    remaining.push(rest > 0 ? buffer.subarray(rest) : buffer);
    rest = 0;
  }
  return remaining;
}
