import { context } from '@opentelemetry/api';
import type { Middleware, ParameterizedContext } from 'koa';
import { LEAN_SERVER_SPAN, type LeanServerSpan } from './lean-http';

/** @koa/router leaves the matched template (with any prefix) on the context. */
export function routeTemplate(ctx: ParameterizedContext): string | undefined {
  const matched = (ctx as { _matchedRoute?: unknown })._matchedRoute;
  return typeof matched === 'string' ? matched : undefined;
}

/**
 * Names the request's server span from its route template (`GET /users/:id`)
 * and sets `http.route`, once the router has matched: on the lean request
 * path, this is what the stock Koa instrumentation's router span did. Mount
 * it outside the routers. It acts only on a sampled request of the lean path
 * (the stock path names its spans itself): one context lookup otherwise.
 */
export const traceRoute: Middleware = async function traceRoute(ctx, next) {
  try {
    await next();
  } finally {
    const server = context.active().getValue(LEAN_SERVER_SPAN) as LeanServerSpan | undefined;
    const route = server && routeTemplate(ctx);
    if (server && route) {
      server.span.setAttribute('http.route', route);
      server.span.updateName(`${server.method} ${route}`);
    }
  }
};
