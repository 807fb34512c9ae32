import { env, serviceEnvSchema } from '@mlr/config';
import { z } from 'zod';
import { checkVerificationKey } from './auth/token-verifier.js';

export const gatewayConfigSchema = serviceEnvSchema
  .extend({
    HTTP_PORT: env.port(8080),
    /**
     * The token issuer's public key: PEM (SPKI; Ed25519 for EdDSA or P-256 for ES256; `\n` for line
     * breaks allowed) or a JWKS document (`{"keys": [...]}`), as `npm run token -- keygen` prints it.
     * Give this or AUTH_JWKS_URL.
     */
    AUTH_JWT_PUBLIC_KEY: z
      .string()
      .min(1, 'must not be empty')
      .optional()
      .superRefine((value, context) => {
        if (value === undefined) return;
        try {
          checkVerificationKey(value);
        } catch (error) {
          context.addIssue({ code: 'custom', message: (error as Error).message });
        }
      }),
    /** Where the issuer publishes its keys (JWKS over HTTPS), instead of AUTH_JWT_PUBLIC_KEY. */
    AUTH_JWKS_URL: env.url(['https', 'http']).optional(),
    /** Tokens must carry exactly this `iss`. */
    AUTH_JWT_ISSUER: env.string(),
    /** Tokens must list this in `aud`. */
    AUTH_JWT_AUDIENCE: z.string().min(1, 'must not be empty').default('mlr-api'),
    /** Allowed clock difference with the issuer when checking `exp` and `nbf`. */
    AUTH_CLOCK_TOLERANCE_SECONDS: z.coerce.number().int().min(0).max(300).default(30),
  })
  .superRefine((config, context) => {
    if ((config.AUTH_JWT_PUBLIC_KEY === undefined) === (config.AUTH_JWKS_URL === undefined)) {
      context.addIssue({
        code: 'custom',
        path: ['AUTH_JWT_PUBLIC_KEY'],
        message: 'give exactly one of AUTH_JWT_PUBLIC_KEY (PEM or JWKS) and AUTH_JWKS_URL to verify access tokens',
      });
    }
  });
export type GatewayConfig = z.output<typeof gatewayConfigSchema>;
