import { databaseEnvSchema, serviceEnvSchema } from '@mlr/config';
import { UPLOAD_QUOTA_DEFAULT_BYTES, uploadQuotaBytesSchema } from '@mlr/contracts';
import { z } from 'zod';
import { parseVendorPublicKey } from './licences/licence-signature.js';
import { parseConnectorSigningKey } from './connectors/connector-jwt.js';
import { parseOperatorSigningSeed, readSystemCreds } from './connectors/nats-revocations.js';

export const licensingConfigSchema = serviceEnvSchema
  .extend(databaseEnvSchema.shape)
  .extend({
    /**
     * The vendor's Ed25519 public key that licences must be signed with: PEM (`\n` for line breaks
     * allowed) or base64 SPKI DER, as `licence-tool keygen` prints it. Without it the service runs
     * (tenants, status, usage) but refuses every licence import, saying why.
     */
    LICENSING_VENDOR_PUBLIC_KEY: z
      .string()
      .optional()
      .superRefine((value, context) => {
        if (value === undefined) return;
        try {
          parseVendorPublicKey(value);
        } catch (error) {
          context.addIssue({ code: 'custom', message: (error as Error).message });
        }
      }),
    /**
     * The platform's NATS account (public key `A…`) and one of its signing keys (seed `SA…`, a secret):
     * connector user JWTs are signed with it at enrolment. Both or neither; without them the service
     * runs but refuses every enrolment, saying why.
     */
    LICENSING_NATS_ACCOUNT_PUBLIC_KEY: z.string().min(1).optional(),
    LICENSING_NATS_ACCOUNT_SIGNING_SEED: z.string().min(1).optional(),
    /**
     * Revoking a connector on the NATS server: an operator signing key (seed `SO…`, a secret) that
     * re-signs the platform account's JWT with the revoked keys, and the `.creds` file of a system
     * account user that pushes it (the server must use the `full` account resolver). Both or
     * neither; without them a revoked connector gets no jobs but its NATS credentials keep working.
     */
    LICENSING_NATS_OPERATOR_SIGNING_SEED: z.string().min(1).optional(),
    LICENSING_NATS_SYSTEM_CREDS: z.string().min(1).optional(),
    /**
     * The upload quota of tenants the operator set none for (bytes of large messages' chunks their
     * connectors may have waiting in NATS for storage at once). Every quota is reserved in the
     * JetStream file store: size `max_file_store` for the sum over all tenants with MLR enabled.
     */
    LICENSING_UPLOAD_QUOTA_DEFAULT_BYTES: z.coerce
      .number()
      .pipe(uploadQuotaBytesSchema)
      .default(UPLOAD_QUOTA_DEFAULT_BYTES),
    /** How often licensing checks that every tenant with MLR enabled has its chunk stream with its quota. */
    LICENSING_UPLOAD_STREAMS_CHECK_MS: z.coerce
      .number()
      .int()
      .min(1_000)
      .default(5 * 60_000),
  })
  .superRefine((config, context) => {
    const seed = config.LICENSING_NATS_OPERATOR_SIGNING_SEED;
    const creds = config.LICENSING_NATS_SYSTEM_CREDS;
    if (seed === undefined && creds === undefined) return;
    if (seed === undefined || creds === undefined) {
      context.addIssue({
        code: 'custom',
        path: [seed === undefined ? 'LICENSING_NATS_OPERATOR_SIGNING_SEED' : 'LICENSING_NATS_SYSTEM_CREDS'],
        message:
          'is required together with the other of LICENSING_NATS_OPERATOR_SIGNING_SEED / LICENSING_NATS_SYSTEM_CREDS',
      });
      return;
    }
    if (config.LICENSING_NATS_ACCOUNT_PUBLIC_KEY === undefined) {
      context.addIssue({
        code: 'custom',
        path: ['LICENSING_NATS_ACCOUNT_PUBLIC_KEY'],
        message: 'is required for NATS revocation (the account whose JWT lists the revoked keys)',
      });
    }
    try {
      parseOperatorSigningSeed(seed);
    } catch (error) {
      context.addIssue({
        code: 'custom',
        path: ['LICENSING_NATS_OPERATOR_SIGNING_SEED'],
        message: (error as Error).message,
      });
    }
    try {
      readSystemCreds(creds);
    } catch (error) {
      context.addIssue({ code: 'custom', path: ['LICENSING_NATS_SYSTEM_CREDS'], message: (error as Error).message });
    }
  })
  .superRefine((config, context) => {
    const publicKey = config.LICENSING_NATS_ACCOUNT_PUBLIC_KEY;
    const seed = config.LICENSING_NATS_ACCOUNT_SIGNING_SEED;
    if (publicKey === undefined && seed === undefined) return;
    if (publicKey === undefined || seed === undefined) {
      context.addIssue({
        code: 'custom',
        path: [publicKey === undefined ? 'LICENSING_NATS_ACCOUNT_PUBLIC_KEY' : 'LICENSING_NATS_ACCOUNT_SIGNING_SEED'],
        message: 'is required together with the other LICENSING_NATS_ACCOUNT_* variable',
      });
      return;
    }
    try {
      parseConnectorSigningKey({ accountPublicKey: publicKey, signingSeed: seed });
    } catch (error) {
      context.addIssue({
        code: 'custom',
        path: ['LICENSING_NATS_ACCOUNT_SIGNING_SEED'],
        message: (error as Error).message,
      });
    }
  });
export type LicensingConfig = z.output<typeof licensingConfigSchema>;
