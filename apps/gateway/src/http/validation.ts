import { BadRequestException } from '@nestjs/common';
import type { z } from 'zod';

/** The body of a 400 answer: what is wrong, the (first) field at fault, and every problem. */
export interface BadRequestBody {
  statusCode: 400;
  error: 'Bad Request';
  message: string;
  field?: string;
  problems: Array<{ path: string; message: string }>;
}

/**
 * Validates one part of an HTTP request (path, query or body) with its contract schema. A bad one
 * becomes 400 with a message that names each bad field, as the API user wrote it.
 */
export function parseHttp<T extends z.ZodType>(part: 'path' | 'query' | 'body', schema: T, data: unknown): z.output<T> {
  const result = schema.safeParse(data ?? {});
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => ({
    path: issue.path.map(String).join('.'),
    message: issue.message,
  }));
  const first = problems[0]?.path;
  const body: BadRequestBody = {
    statusCode: 400,
    error: 'Bad Request',
    message: `invalid request ${part}: ${problems.map((p) => `${p.path || `(${part})`}: ${p.message}`).join('; ')}`,
    ...(first ? { field: first } : {}),
    problems,
  };
  throw new BadRequestException(body);
}
