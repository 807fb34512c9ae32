import type { z } from 'zod';

/** An inbound payload that does not match its contract. The message names every bad field. */
export class ContractViolation extends Error {
  override readonly name = 'ContractViolation';

  constructor(
    readonly contract: string,
    readonly problems: ReadonlyArray<{ path: string; message: string }>,
  ) {
    super(`invalid ${contract}: ${problems.map((p) => `${p.path || '(payload)'}: ${p.message}`).join('; ')}`);
  }

  static fromZod(contract: string, error: z.ZodError): ContractViolation {
    return new ContractViolation(
      contract,
      error.issues.map((issue) => ({ path: issue.path.map(String).join('.'), message: issue.message })),
    );
  }
}

/** Validates `data` against `schema`; throws a ContractViolation naming each bad field. */
export function parseContract<T extends z.ZodType>(contract: string, schema: T, data: unknown): z.output<T> {
  const result = schema.safeParse(data);
  if (!result.success) throw ContractViolation.fromZod(contract, result.error);
  return result.data;
}
