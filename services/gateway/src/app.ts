import Router, { type RouterContext } from '@koa/router';
import { z } from 'zod';
import { idParam, parseInput, rowIdText, type AppState } from '@glassbox/service-kit';
import type { Upstream } from './upstream';

export interface Upstreams {
  users: Upstream;
  products: Upstream;
  orders: Upstream;
}

const PREFIX = '/api';

/** A paging position as the caller wrote it: digits only. Its range is the service's to check. */
const position = z
  .string()
  .regex(/^[0-9]{1,10}$/, 'must be a non-negative integer')
  .transform(Number);
const noQuery = z.strictObject({});
const listQuery = z.strictObject({ limit: position.optional(), offset: position.optional() });
const ordersQuery = listQuery.extend({ userId: rowIdText.optional() });

/**
 * Idempotency-Key (IETF httpapi draft): the caller's name for one attempt to
 * place an order, so a retry after a lost answer does not place it twice.
 * How long it may be is orders' to say; the gateway passes on one value of
 * printable ASCII, nothing else.
 */
const idempotencyKey = z.string().regex(/^[\x20-\x7e]+$/, 'must be printable ASCII');

interface PublicRoute {
  method: 'get' | 'post' | 'put' | 'delete';
  /** Under /api. The upstream path is the same template, its `:id` filled with the validated id. */
  template: string;
  upstream: Upstream;
  /** The query parameters the route takes: validated, then written anew for the service. */
  query?: z.ZodType<Record<string, number | undefined>>;
  /** Request headers the route passes on when the caller sends them (besides X-Request-Id), with their rules. */
  headers?: Record<string, z.ZodType<string>>;
}

/**
 * The public API: each route forwards to the service that owns it, and only
 * what the route matched. The upstream URL is built from the route's own
 * template and its validated parameters (ids are positive integers), never
 * from the path the caller sent: `new URL()` would turn `\` into `/` and
 * `%2e%2e` into `..`, and a path such as `/api/users/%2e%2e\metrics` would
 * leave the route for a service's internal endpoints. A parameter of the
 * wrong shape is a 400 before any service is called; a path no route matches
 * is a 404 from the gateway itself.
 *
 * Routes are explicit templates, not wildcards, so the gateway's metrics and
 * span names stay bounded: `GET /api/users/:id`, never one series per id.
 * What a body may hold is the service's to check; the gateway only refuses
 * what is not JSON.
 */
export function gatewayRoutes({ users, products, orders }: Upstreams): Router<AppState> {
  const routes: PublicRoute[] = [
    { method: 'get', template: '/users', upstream: users, query: listQuery },
    { method: 'post', template: '/users', upstream: users },
    { method: 'get', template: '/users/:id', upstream: users },
    { method: 'put', template: '/users/:id', upstream: users },
    { method: 'delete', template: '/users/:id', upstream: users },
    { method: 'get', template: '/products', upstream: products, query: listQuery },
    { method: 'post', template: '/products', upstream: products },
    { method: 'get', template: '/products/:id', upstream: products },
    { method: 'get', template: '/orders', upstream: orders, query: ordersQuery },
    { method: 'post', template: '/orders', upstream: orders, headers: { 'idempotency-key': idempotencyKey } },
    { method: 'get', template: '/orders/:id', upstream: orders },
  ];
  const router = new Router<AppState>({ prefix: PREFIX });
  for (const route of routes) {
    router[route.method](route.template, async function forward(ctx) {
      await route.upstream.forward(ctx, {
        path: upstreamPath(route.template, ctx),
        query: searchParams(parseInput(route.query ?? noQuery, ctx.query, 'query')),
        headers: passedHeaders(ctx, route.headers),
      });
    });
  }
  return router;
}

function upstreamPath(template: string, ctx: RouterContext<AppState>): string {
  if (!template.includes(':id')) return template;
  const { id } = parseInput(idParam, ctx.params, 'params');
  return template.replace(':id', String(id));
}

function searchParams(query: Record<string, number | undefined>): URLSearchParams {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) if (value !== undefined) params.set(name, String(value));
  return params;
}

function passedHeaders(ctx: RouterContext<AppState>, rules: PublicRoute['headers'] = {}): Record<string, string> {
  const passed: Record<string, string> = {};
  for (const [name, rule] of Object.entries(rules)) {
    // headersDistinct keeps a header sent twice as two values; ctx.get would join them with a comma.
    const sent = ctx.req.headersDistinct[name];
    if (!sent) continue;
    const [value] = parseInput(z.array(rule).max(1, 'must be sent once'), sent, `headers.${name}`);
    if (value !== undefined) passed[name] = value;
  }
  return passed;
}
