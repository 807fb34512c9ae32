import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { exportRecoveryKit, generateRootKey, rootKeyId } from '@mlr/crypto';
import { tenantKeyIdOf } from '@mlr/testing';
import { applyTenantKeyPlan, KEY_LOSS_WARNING, planTenantKey, readRootKey, writeRecoveryKit } from './tenant-key.js';

const PASSPHRASE = 'correct horse battery staple';

describe('tenant key at enrolment', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mlr-tenant-key-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('derives key ids as the test fixtures do, which record them as the tenant key of provisioned tenants', () => {
    for (const root of [generateRootKey(), generateRootKey(), Buffer.alloc(32)]) {
      expect(tenantKeyIdOf(root.toString('hex'))).toBe(rootKeyId(root));
    }
  });

  it('creates a new key (0600) when there is none and no kit', async () => {
    const keyFile = join(dir, 'new', 'tenant.key');
    const plan = await planTenantKey(keyFile);
    expect(plan.action).toBe('create');
    applyTenantKeyPlan(keyFile, plan);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(rootKeyId(readRootKey(keyFile))).toBe(plan.keyId);
    expect(await planTenantKey(keyFile)).toEqual({ action: 'keep', keyId: plan.keyId });
  });

  it('imports the key of a recovery kit, and the exported kit opens to the same key', async () => {
    const source = join(dir, 'source.key');
    applyTenantKeyPlan(source, await planTenantKey(source));
    const kitFile = join(dir, 'kit.json');
    const keyId = await writeRecoveryKit(source, kitFile, PASSPHRASE);
    expect(statSync(kitFile).mode & 0o777).toBe(0o600);
    await expect(writeRecoveryKit(source, kitFile, PASSPHRASE)).rejects.toThrow(/already exists/);

    const target = join(dir, 'imported', 'tenant.key');
    const plan = await planTenantKey(target, { text: readFileSync(kitFile, 'utf8'), passphrase: PASSPHRASE });
    expect(plan).toMatchObject({ action: 'import', keyId });
    applyTenantKeyPlan(target, plan);
    expect(readRootKey(target).equals(readRootKey(source))).toBe(true);
    // The same kit again over the same key changes nothing.
    expect(await planTenantKey(target, { text: readFileSync(kitFile, 'utf8'), passphrase: PASSPHRASE })).toMatchObject({
      action: 'keep',
      keyId,
    });
  });

  it('refuses a wrong passphrase, and a kit of another key over an existing key file', async () => {
    const kit = await exportRecoveryKit(generateRootKey(), PASSPHRASE);
    await expect(planTenantKey(join(dir, 'none.key'), { text: kit, passphrase: 'not the passphrase' })).rejects.toThrow(
      /wrong passphrase/,
    );
    const existing = join(dir, 'existing.key');
    applyTenantKeyPlan(existing, await planTenantKey(existing));
    await expect(planTenantKey(existing, { text: kit, passphrase: PASSPHRASE })).rejects.toThrow(
      /refusing to replace it/,
    );
  });

  it('refuses a damaged key file, naming it', async () => {
    const damaged = join(dir, 'damaged.key');
    writeFileSync(damaged, 'not a key\n');
    await expect(planTenantKey(damaged)).rejects.toThrow(new RegExp(`${damaged} is damaged`));
  });

  it('says plainly that losing both the key and the kit makes the backups unreadable', () => {
    expect(KEY_LOSS_WARNING).toMatch(/If both the key file and the recovery kit are lost, the backups cannot be read/);
  });
});
