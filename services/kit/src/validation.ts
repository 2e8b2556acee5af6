import type { z } from 'zod';
import { badRequest, type FieldProblem } from './errors';

/**
 * Parses `value` with a zod schema, or throws a 400 whose message names every
 * offending field, e.g. "body.email: Invalid email address".
 * `where` says which part of the request it was: body, query, params.
 */
export function parseInput<T extends z.ZodType>(schema: T, value: unknown, where: string): z.output<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const problems = describeIssues(result.error.issues, where);
  throw badRequest(problems.map((p) => `${p.field}: ${p.message}`).join('; '), problems);
}

export function describeIssues(issues: z.core.$ZodIssue[], where: string): FieldProblem[] {
  return issues.flatMap((issue) => {
    const base = [where, ...issue.path.map(String)].filter(Boolean).join('.');
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({ field: base ? `${base}.${key}` : key, message: 'unknown field' }));
    }
    return [{ field: base || where, message: issue.message }];
  });
}
