import { timingSafeEqual } from 'node:crypto';
import Router from '@koa/router';
import { z } from 'zod';
import type { Logger } from '@glassbox/telemetry';
import type { AppState } from './state';
import { AppError, notFound } from './errors';
import { parseInput } from './validation';

/**
 * Faults a learner switches on at runtime to break a service on purpose, then
 * finds the cause with traces, metrics and logs (docs/scenarios/). Each
 * service declares the faults it can play; the code that plays one asks
 * `faults.enabled(name)` at the one spot where the fault lives.
 */
export class FaultSwitches {
  private readonly state = new Map<string, boolean>();

  constructor(
    private readonly descriptions: Record<string, string>,
    private readonly logger: Logger,
  ) {
    for (const name of Object.keys(descriptions)) this.state.set(name, false);
  }

  enabled(name: string): boolean {
    return this.state.get(name) === true;
  }

  set(name: string, enabled: boolean): void {
    if (!this.state.has(name)) throw notFound(`no fault named ${name}; known: ${this.names().join(', ') || 'none'}`);
    this.state.set(name, enabled);
    this.logger.warn({ fault: name, enabled }, `fault ${name} switched ${enabled ? 'ON' : 'off'}`);
  }

  names(): string[] {
    return [...this.state.keys()];
  }

  list() {
    return this.names().map((name) => ({ name, enabled: this.enabled(name), description: this.descriptions[name] }));
  }
}

const toggle = z.strictObject({ enabled: z.boolean() });

/**
 * GET /admin/faults and PUT /admin/faults/:name {"enabled": true|false}.
 * Guarded by a bearer token from ADMIN_TOKEN; without a token configured the
 * routes answer 404, as if they did not exist. The gateway forwards only
 * /api/..., so these are never reachable through the public API.
 */
export function faultRoutes(faults: FaultSwitches, adminToken: string | undefined): Router<AppState> {
  const router = new Router<AppState>({ prefix: '/admin/faults' });
  router.use(async function requireAdminToken(ctx, next) {
    if (!adminToken) throw notFound(`no route for ${ctx.method} ${ctx.path}`);
    const offered = Buffer.from(/^Bearer (.+)$/.exec(ctx.get('authorization'))?.[1] ?? '');
    const expected = Buffer.from(adminToken);
    if (offered.length !== expected.length || !timingSafeEqual(offered, expected)) {
      throw new AppError(401, 'unauthorized', 'a valid admin token is required (Authorization: Bearer <ADMIN_TOKEN>)');
    }
    await next();
  });
  router.get('/', function listFaults(ctx) {
    ctx.body = faults.list();
  });
  router.put('/:name', function switchFault(ctx) {
    const { enabled } = parseInput(toggle, ctx.request.body, 'body');
    faults.set(ctx.params.name ?? '', enabled);
    ctx.body = faults.list().find((fault) => fault.name === ctx.params.name);
  });
  return router;
}
