import Router from '@koa/router';
import type { AppState } from '@glassbox/service-kit';
import type { Upstream } from './upstream';

export interface Upstreams {
  users: Upstream;
  products: Upstream;
  orders: Upstream;
}

const PREFIX = '/api';

/**
 * The public API: /api/<service>/... forwarded, minus the prefix, to the
 * service that owns it. Each route is an explicit template (not a wildcard)
 * so the gateway's metrics and span names stay bounded: `GET /api/users/:id`,
 * never one series per id. What the services accept is theirs to check; the
 * gateway only refuses what is not JSON.
 */
export function gatewayRoutes({ users, products, orders }: Upstreams): Router<AppState> {
  const routes: Array<[method: 'get' | 'post' | 'put' | 'delete', template: string, upstream: Upstream]> = [
    ['get', '/users', users],
    ['post', '/users', users],
    ['get', '/users/:id', users],
    ['put', '/users/:id', users],
    ['delete', '/users/:id', users],
    ['get', '/products', products],
    ['post', '/products', products],
    ['get', '/products/:id', products],
    ['get', '/orders', orders],
    ['post', '/orders', orders],
    ['get', '/orders/:id', orders],
  ];
  const router = new Router<AppState>({ prefix: PREFIX });
  for (const [method, template, upstream] of routes) {
    router[method](template, async function forward(ctx) {
      await upstream.forward(ctx, ctx.path.slice(PREFIX.length));
    });
  }
  return router;
}
