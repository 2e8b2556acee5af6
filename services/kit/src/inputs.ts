import { z } from 'zod';

/**
 * Request pieces every service reads the same way. Row ids are PostgreSQL
 * integers; one written in a path or query string must be digits only, so
 * "abc", "1.5", "-3" and "1e3" are 400s that name the field, never 404s.
 */
export const ROW_ID_MAX = 2_147_483_647;

/**
 * Characters no name, title or label of glassbox needs, and that do harm
 * where they end up: C0 and C1 control characters (NUL ends a string in
 * PostgreSQL's text type and is refused by it; a newline forges a log line),
 * and the bidirectional overrides and isolates that make a text display
 * differently from what it is ("Trojan Source").
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNWANTED_CHARACTERS = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

/**
 * A line of text a caller writes, such as a name: trimmed, between `min` and
 * `max` characters, well-formed Unicode (no lone surrogate, which PostgreSQL
 * would store as a replacement character), and none of the characters above.
 * Each problem is a 400 that names the field.
 */
export const singleLineText = (min: number, max: number) =>
  z
    .string()
    .trim()
    .min(min, min === 1 ? 'required' : `must be at least ${min} characters`)
    .max(max, `must be at most ${max} characters`)
    .refine((text) => text.isWellFormed(), 'must be well-formed Unicode (no lone surrogates)')
    .refine((text) => !UNWANTED_CHARACTERS.test(text), 'must not contain control or bidirectional-override characters');

/** A row id inside a JSON body. */
export const rowId = z.number().int('must be an integer').positive('must be positive').max(ROW_ID_MAX);

/** A row id written in a path or a query string. */
export const rowIdText = z
  .string({ error: 'required' })
  .regex(/^[1-9][0-9]{0,9}$/, 'must be a positive integer')
  .transform(Number)
  .refine((id) => id <= ROW_ID_MAX, 'is too large');

/** `/things/:id` */
export const idParam = z.strictObject({ id: rowIdText });

export const MAX_PAGE_SIZE = 100;

/** `?limit=&offset=`: bounded, so no request can ask for the whole table. */
export const pageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(MAX_PAGE_SIZE).default(20),
  offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
});
export type Page = z.output<typeof pageQuery>;
