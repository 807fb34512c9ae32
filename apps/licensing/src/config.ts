import { databaseEnvSchema, serviceEnvSchema } from '@mlr/config';
import { z } from 'zod';
import { parseVendorPublicKey } from './licences/licence-signature.js';
import { parseConnectorSigningKey } from './connectors/connector-jwt.js';

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
