import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import Router from '@koa/router';
import { context } from '@opentelemetry/api';
import { suppressTracing } from '@opentelemetry/core';
import { z } from 'zod';
import type { Logger } from '@glassbox/telemetry';
import {
  AppError,
  badRequest,
  dependencyUnavailable,
  notFound,
  parseInput,
  upstreamTimeout,
  type AppState,
} from '@glassbox/service-kit';
import type { RateLimiter } from './rate-limit';

/** The page's files, built by web/ (esbuild): a fixed list, so no path a caller writes can name another file. */
const SITE_FILES: Record<string, { file: string; type: string; cache: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8', cache: 'no-cache' },
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8', cache: 'no-cache' },
  '/app.js.map': { file: 'app.js.map', type: 'application/json', cache: 'no-cache' },
  '/style.css': { file: 'style.css', type: 'text/css; charset=utf-8', cache: 'no-cache' },
};

/**
 * What the browser may do with the page: load its own script and style,
 * fetch from the same origin (the API and the span export), nothing else.
 * No inline script, no third-party anything, and no framing (clickjacking).
 */
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

export interface StorefrontOptions {
  logger: Logger;
  /** Where the page's "open this trace" links point. */
  jaegerUiUrl: string;
  /** The collector's OTLP/HTTP traces endpoint, which the page reaches only through the gateway. */
  collectorTracesUrl: string;
  timeoutMs: number;
  /** Per caller, for the span export: the one public path that writes into the telemetry pipeline. */
  limiter: RateLimiter;
}

/**
 * The storefront page at `/`, and `/otlp/v1/traces`, where the page sends
 * its spans. Through the gateway, the page needs no CORS and the collector
 * is never published; the price is that anyone can post here, so a post is
 * rate-limited per caller, capped in size (the kit's body limit), checked for
 * the shape of OTLP/JSON, and accepted only as spans of service `web`: a
 * caller can not pose as orders in the traces a learner trusts.
 */
export function storefrontRoutes(options: StorefrontOptions): Router<AppState> {
  const router = new Router<AppState>();
  const site = loadSite(options);

  for (const [path, asset] of Object.entries(SITE_FILES)) {
    router.get(path, function servePage(ctx) {
      const body = site.get(path);
      if (body === undefined) throw notFound('the storefront page is not built: run npm run build');
      ctx.set({ ...SECURITY_HEADERS, 'cache-control': asset.cache });
      ctx.type = asset.type;
      ctx.body = body;
    });
  }

  router.post('/otlp/v1/traces', async function relaySpans(ctx) {
    if (!options.limiter.take(ctx.ip)) {
      ctx.set('retry-after', String(options.limiter.retryAfterSeconds(ctx.ip)));
      throw new AppError(429, 'too_many_requests', 'too many span exports from this caller; slow down');
    }
    const payload = parseInput(browserSpans, ctx.request.body, 'body');
    const answer = await forward(options, JSON.stringify(payload));
    ctx.status = answer.status;
    ctx.type = 'application/json';
    ctx.body = answer.text || '{}';
  });
  return router;
}

function loadSite(options: StorefrontOptions): Map<string, Buffer | string> {
  const root = join(dirname(require.resolve('@glassbox/web/package.json')), 'dist', 'site');
  const site = new Map<string, Buffer | string>();
  if (!existsSync(join(root, 'index.html'))) {
    options.logger.warn({ root }, 'the storefront page is not built (npm run build); / answers 404');
    return site;
  }
  for (const [path, { file }] of Object.entries(SITE_FILES)) {
    const content = readFileSync(join(root, file));
    site.set(
      path,
      // The one setting the page takes from its deployment: where Jaeger's UI is.
      file === 'index.html'
        ? content
            .toString('utf8')
            .replace('content="http://127.0.0.1:16686"', `content="${escapeAttribute(options.jaegerUiUrl)}"`)
        : content,
    );
  }
  return site;
}

const escapeAttribute = (text: string) => text.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');

const attributes = z.array(z.object({ key: z.string().max(256), value: z.unknown() })).max(128);

/** OTLP/JSON ExportTraceServiceRequest, as far as the gateway needs to know it; the collector checks the rest. */
const browserSpans = z
  .object({
    resourceSpans: z
      .array(
        z.looseObject({
          resource: z.looseObject({ attributes }),
          scopeSpans: z.array(z.looseObject({ spans: z.array(z.looseObject({})).max(256) })).max(16),
        }),
      )
      .min(1)
      .max(16),
  })
  .refine(
    (request) =>
      request.resourceSpans.every((resourceSpan) =>
        resourceSpan.resource.attributes.some(
          (attribute) =>
            attribute.key === 'service.name' &&
            (attribute.value as { stringValue?: unknown } | null)?.stringValue === 'web',
        ),
      ),
    { message: 'only the storefront page’s spans (resource service.name "web") are accepted here' },
  );

async function forward(options: StorefrontOptions, body: string): Promise<{ status: number; text: string }> {
  let response: Response;
  try {
    // The relay's own call to the collector is not traced: it is telemetry about telemetry.
    response = await context.with(suppressTracing(context.active()), () =>
      fetch(options.collectorTracesUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        signal: AbortSignal.timeout(options.timeoutMs),
      }),
    );
  } catch (error) {
    throw (error as { name?: string }).name === 'TimeoutError'
      ? upstreamTimeout('collector', options.timeoutMs, error)
      : dependencyUnavailable('collector', error);
  }
  const text = await response.text();
  if (response.status >= 400 && response.status < 500)
    throw badRequest(`the collector refused the spans: ${text.slice(0, 200)}`);
  if (!response.ok) throw dependencyUnavailable('collector', undefined, `the collector answered ${response.status}`);
  return { status: response.status, text };
}
