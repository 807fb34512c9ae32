import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { PeriodicTask } from './periodic-task.js';

describe('PeriodicTask', () => {
  it('runs at once when asked, then on its period, never two runs at a time', async () => {
    let runs = 0;
    let concurrent = 0;
    let most = 0;
    const task = new PeriodicTask(
      async () => {
        runs++;
        most = Math.max(most, ++concurrent);
        await sleep(35); // longer than the period: ticks meanwhile are skipped
        concurrent--;
      },
      { everyMs: 10, immediately: true, onError: () => undefined },
    );
    task.start();
    expect(runs).toBe(1);
    await sleep(120);
    await task.stop();
    const after = runs;
    expect(most).toBe(1);
    expect(after).toBeGreaterThan(1);
    expect(after).toBeLessThan(6);
    await sleep(40);
    expect(runs).toBe(after); // stopped
  });

  it('hands a failed run to onError and runs again on its period', async () => {
    const errors: unknown[] = [];
    let runs = 0;
    const task = new PeriodicTask(
      async () => {
        runs++;
        throw new Error(`run ${runs} failed`);
      },
      { everyMs: 10, onError: (error) => errors.push(error) },
    );
    task.start();
    expect(runs).toBe(0); // not at once unless asked
    await sleep(60);
    await task.stop();
    expect(runs).toBeGreaterThan(1);
    expect(errors.map((error) => (error as Error).message)).toEqual(
      Array.from({ length: runs }, (_, i) => `run ${i + 1} failed`),
    );
  });

  it('stop() waits for the run under way', async () => {
    let finished = false;
    const task = new PeriodicTask(
      async () => {
        await sleep(30);
        finished = true;
      },
      { everyMs: 1_000, immediately: true, onError: () => undefined },
    );
    task.start();
    await task.stop();
    expect(finished).toBe(true);
  });
});
