import { databaseEnvSchema, serviceEnvSchema } from '@mlr/config';
import { z } from 'zod';
import { parseVendorPublicKey } from './licences/licence-signature.js';

export const licensingConfigSchema = serviceEnvSchema.extend(databaseEnvSchema.shape).extend({
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
});
export type LicensingConfig = z.output<typeof licensingConfigSchema>;
