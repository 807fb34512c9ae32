import * as prettier from 'prettier';
import { describe, expect, it } from 'vitest';
import { benchResultSchema, formatJson, resultName } from './bench-result.js';
import { sampleBackupResult } from './__tests__/sample-result.js';

describe('benchmark result file', () => {
  it('accepts a result with every part a reader needs', () => {
    const result = sampleBackupResult();
    expect(benchResultSchema.parse(result)).toEqual(result);
  });

  it('refuses a result without its settings, CPU or achieved counts, or with fields it does not know', () => {
    const { settings: _settings, ...withoutSettings } = sampleBackupResult();
    expect(benchResultSchema.safeParse(withoutSettings).success).toBe(false);
    const { cpu: _cpu, ...withoutCpu } = sampleBackupResult();
    expect(benchResultSchema.safeParse(withoutCpu).success).toBe(false);
    const { achieved: _achieved, ...withoutAchieved } = sampleBackupResult();
    expect(benchResultSchema.safeParse(withoutAchieved).success).toBe(false);
    expect(benchResultSchema.safeParse({ ...sampleBackupResult(), rate: 500 }).success).toBe(false);
  });

  it('names the file by benchmark and scenario', () => {
    expect(resultName(sampleBackupResult())).toBe('backup-1x500x50KiB');
  });

  it('writes JSON that passes the format check, so that committed results keep npm test green', async () => {
    const text = await formatJson(sampleBackupResult());
    expect(JSON.parse(text)).toEqual(sampleBackupResult());
    const options = (await prettier.resolveConfig('bench/results/x.json')) ?? {};
    expect(await prettier.check(text, { ...options, parser: 'json' })).toBe(true);
  });
});
