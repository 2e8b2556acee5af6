import type { Middleware } from 'koa';
import { AppError } from './errors';

/** Large enough for any glassbox request, small enough that nobody streams a file at us. */
export const MAX_BODY_BYTES = 64 * 1024;

/**
 * No glassbox request nests deeper than a few levels. A body of 64 KiB can
 * nest 30,000 deep, and every recursive walk over it afterwards (validation,
 * JSON.stringify when the gateway forwards it) risks a stack overflow: a 500
 * that any caller could provoke. Counted before JSON.parse, in one pass.
 */
export const MAX_JSON_DEPTH = 32;

/** What nginx logs for a client that went away before the answer: not a server error. */
export const CLIENT_CLOSED_REQUEST = 499;

const METHODS_WITH_BODY = new Set(['POST', 'PUT', 'PATCH']);

/**
 * Reads a JSON request body into ctx.request.body, with the answers a caller
 * deserves when it is wrong: 413 too large, 415 not JSON, 400 malformed (not
 * UTF-8, not JSON, nested too deep), and 499 when it hung up halfway.
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

  const text = decodeUtf8(await readAtMost(ctx, MAX_BODY_BYTES));
  if (jsonDepthExceeds(text, MAX_JSON_DEPTH)) {
    throw malformed(`request body nests deeper than ${MAX_JSON_DEPTH} levels of arrays and objects`);
  }
  try {
    ctx.request.body = text.trim() === '' ? undefined : (JSON.parse(text) as unknown);
  } catch (error) {
    // V8's message quotes the body around the error; a quote could carry what the caller sent
    // (an email, a token) into logs, so only the position is kept.
    const position = /position (\d+)/.exec((error as Error).message)?.[1];
    throw malformed(`request body is not valid JSON${position ? ` (at position ${position})` : ''}`);
  }
  await next();
};

async function readAtMost(ctx: Parameters<Middleware>[0], limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    // destroyOnReturn: false, so that leaving the loop early (413) does not
    // reset the connection before the 413 is written; Connection: close then
    // spares us reading the rest of an oversized upload.
    for await (const chunk of ctx.req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > limit) {
        ctx.set('connection', 'close');
        throw tooLarge();
      }
      chunks.push(chunk);
    }
  } catch (error) {
    if (error instanceof AppError) throw error;
    // The stream fails only when the client aborted: it is gone, and it was not our fault.
    throw new AppError(
      CLIENT_CLOSED_REQUEST,
      'client_closed_request',
      'the client closed the request before its body was read',
      {
        cause: error,
      },
    );
  }
  return Buffer.concat(chunks);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Strict: invalid bytes are an error, not silently U+FFFD, which would then be stored as if the caller had sent it. */
function decodeUtf8(bytes: Buffer): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw malformed('request body is not valid UTF-8');
  }
}

/** True when arrays and objects nest deeper than `limit`, brackets inside strings not counted. */
export function jsonDepthExceeds(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (inString) {
      if (code === 0x5c)
        i++; // a backslash escapes the next character, a quote included
      else if (code === 0x22) inString = false;
    } else if (code === 0x22) {
      inString = true;
    } else if (code === 0x5b || code === 0x7b) {
      if (++depth > limit) return true;
    } else if (code === 0x5d || code === 0x7d) {
      depth--;
    }
  }
  return false;
}

function malformed(message: string): AppError {
  return new AppError(400, 'malformed_json', message);
}

function tooLarge(): AppError {
  return new AppError(413, 'payload_too_large', `request body exceeds ${MAX_BODY_BYTES} bytes`);
}

declare module 'koa' {
  interface Request {
    body?: unknown;
  }
}
