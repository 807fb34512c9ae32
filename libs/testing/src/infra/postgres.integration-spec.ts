import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../paths.js';
import { postgresDurability, startPostgres, type PostgresInfo } from './postgres.js';
import type { ServiceHandle } from './types.js';

/** A durable cluster for benchmarks, a fast one for tests: what each runs with, and no silent mix-up. */
describe('PostgreSQL durability', () => {
  const dirs: string[] = [];
  const handles: Array<ServiceHandle<PostgresInfo>> = [];

  afterAll(async () => {
    for (const handle of handles) await handle.stop().catch(() => undefined);
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('runs a durable cluster with fsync, synchronous commit and full-page writes, a fast one without', async () => {
    const dir = mkdtempSync(join(REPO_ROOT, 'tmp', 'postgres-it-'));
    dirs.push(dir);
    const durable = await startPostgres({ dir, durable: true });
    handles.push(durable);
    expect(await postgresDurability(durable.info)).toEqual({
      fsync: 'on',
      synchronous_commit: 'on',
      full_page_writes: 'on',
    });
    await expect(startPostgres({ dir })).rejects.toThrow(/running with .*fsync.*on.*non-durable server was asked/);
    expect((await startPostgres({ dir, durable: true })).reused).toBe(true);

    // Stopped, the same cluster starts again with what is asked now.
    await durable.stop();
    const fast = await startPostgres({ dir });
    handles.push(fast);
    expect(await postgresDurability(fast.info)).toEqual({
      fsync: 'off',
      synchronous_commit: 'off',
      full_page_writes: 'off',
    });
    await expect(startPostgres({ dir, durable: true })).rejects.toThrow(/but a durable server was asked/);
  });
});
