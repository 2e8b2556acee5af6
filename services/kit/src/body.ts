import type { Middleware } from 'koa';
import { AppError } from './errors';

/** Large enough for any glassbox request, small enough that nobody streams a file at us. */
export const MAX_BODY_BYTES = 64 * 1024;

const METHODS_WITH_BODY = new Set(['POST', 'PUT', 'PATCH']);

/**
 * Reads a JSON request body into ctx.request.body, with the three answers a
 * caller deserves when it is wrong: 413 too large, 415 not JSON, 400 malformed.
 * Small on purpose (Koa's own style): one job, no options nobody uses.
 */
export const readJsonBody: Middleware = async function readJsonBody(ctx, next) {
  if (!METHODS_WITH_BODY.has(ctx.method)) {
    await next();
    return;
  }

  const declared = Number(ctx.get('content-length') || 0);
  if (declared > MAX_BODY_BYTES) throw tooLarge();
  const hasBody = declared > 0 || ctx.get('transfer-encoding') !== '';
  if (!hasBody) {
    ctx.request.body = undefined;
    await next();
    return;
  }
  if (!ctx.is('application/json')) {
    throw new AppError(
      415,
      'unsupported_media_type',
      `expected Content-Type application/json, got ${ctx.get('content-type') || 'none'}`,
    );
  }

  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw tooLarge();
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    ctx.request.body = text.trim() === '' ? undefined : (JSON.parse(text) as unknown);
  } catch (error) {
    throw new AppError(400, 'malformed_json', `request body is not valid JSON: ${(error as Error).message}`);
  }
  await next();
};

function tooLarge(): AppError {
  return new AppError(413, 'payload_too_large', `request body exceeds ${MAX_BODY_BYTES} bytes`);
}

declare module 'koa' {
  interface Request {
    body?: unknown;
  }
}
