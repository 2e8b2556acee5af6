import { randomUUID } from 'node:crypto';
import { SpanStatusCode, trace, context } from '@opentelemetry/api';
import Router from '@koa/router';
import Koa, { type Middleware } from 'koa';
import { traceRoute, type HttpMetrics, type Logger } from '@glassbox/telemetry';
import { readJsonBody } from './body';
import { faultRoutes, type FaultSwitches } from './faults';
import { AppError, badRequest, methodNotAllowed, notFound } from './errors';
import { checkReadiness, type ReadinessCheck } from './readiness';
import type { AppState } from './state';

export interface AppOptions {
  logger: Logger;
  /** The service's own routes: one router, or several, each asked in turn. */
  routes: Router | Router[];
  /** Where the HTTP metrics of every request are recorded (the management app serves them). */
  metrics: HttpMetrics;
}

export interface ManagementOptions {
  logger: Logger;
  /** The registry /metrics serves: the HTTP metrics, and any domain metrics registered beside them. */
  metrics: HttpMetrics;
  /** What /readyz asks: each of the service's dependencies. */
  readiness?: ReadinessCheck[];
  /** The faults this service can play, switched at /admin/faults when ADMIN_TOKEN is set. */
  faults?: FaultSwitches;
  adminToken?: string;
}

const REQUEST_ID = /^[\w.:-]{1,128}$/;

/**
 * The public Koa app of a glassbox service: what its callers use, and
 * nothing an operator uses (that is the management app, on a port of its
 * own that is never published). Order matters, outermost first:
 *   metrics      sees every request, including those that fail below it
 *   trace route  names the request's span from its route, once matched
 *   request id   accepted from the caller or made here; on every response
 *   errors       the one place where errors become JSON responses
 *   /healthz     liveness, for the load balancer in front
 *   JSON body    413 / 415 / 400 before a route sees bad input
 *   routes       the service's own, then 405 for wrong methods
 */
export function createApp(options: AppOptions): Koa<AppState> {
  const app = new Koa<AppState>();
  app.use(options.metrics.middleware);
  app.use(traceRoute);
  app.use(assignRequestId(options.logger));
  app.use(handleErrors);
  app.use(requireHost);
  app.use(liveness().routes());
  app.use(readJsonBody);
  for (const router of Array.isArray(options.routes) ? options.routes : [options.routes]) {
    app.use(router.routes());
    app.use(router.allowedMethods());
  }
  // Koa's own 'error' event would print a second, unstructured copy of every error.
  app.silent = true;
  return app;
}

/**
 * The management app: /healthz, /readyz (its dependencies answer), /metrics
 * (what Prometheus scrapes) and /admin/faults (behind the admin token). It
 * listens on MANAGEMENT_PORT, which compose does not publish and the gateway
 * can not reach, so no path trick at the public edge gets to it. Its own
 * requests are not counted in the HTTP metrics: a scrape is not traffic.
 */
export function createManagementApp(options: ManagementOptions): Koa<AppState> {
  const app = new Koa<AppState>();
  const probes = liveness();
  probes.get('/readyz', async function ready(ctx) {
    const report = await checkReadiness(options.readiness ?? []);
    ctx.status = report.ready ? 200 : 503;
    ctx.body = report;
  });
  probes.get('/metrics', async function scrape(ctx) {
    ctx.type = options.metrics.registry.contentType;
    ctx.body = await options.metrics.registry.metrics();
  });

  app.use(traceRoute);
  app.use(assignRequestId(options.logger));
  app.use(handleErrors);
  app.use(probes.routes());
  app.use(readJsonBody);
  if (options.faults) app.use(faultRoutes(options.faults, options.adminToken).routes());
  app.silent = true;
  return app;
}

function liveness(): Router<AppState> {
  const router = new Router<AppState>();
  router.get('/healthz', function live(ctx) {
    ctx.body = { status: 'ok' };
  });
  return router;
}

/**
 * HTTP/1.1 requires a Host header (RFC 9112, 3.2); Node's own check answers
 * without a body, so the kit makes it (requireHostHeader: false) and says why.
 */
const requireHost: Middleware<AppState> = async function requireHost(ctx, next) {
  if (ctx.req.httpVersion === '1.1' && !ctx.get('host')) throw badRequest('the Host header is required');
  await next();
};

function assignRequestId(logger: Logger): Middleware<AppState> {
  return async function requestId(ctx, next) {
    const offered = ctx.get('x-request-id');
    ctx.state.requestId = REQUEST_ID.test(offered) ? offered : randomUUID();
    // Made on first use: most requests write no log line, and pino's child()
    // costs ~6 µs a request (~16 µs inside a trace context, measured on Node
    // 24: docs/overhead.md), whether or not a line is ever written.
    const requestId = ctx.state.requestId;
    let log: Logger | undefined;
    Object.defineProperty(ctx.state, 'log', {
      get: () => (log ??= logger.child({ request_id: requestId })),
      enumerable: true,
      configurable: true,
    });
    ctx.set('x-request-id', ctx.state.requestId);
    await next();
  };
}

/**
 * Errors become JSON: `{ error: { code, message, details? }, request_id }`.
 * Known errors (AppError, and Koa's own http errors such as 405) keep their
 * status and message. Anything else is a bug: the caller gets a generic 500,
 * the log gets the stack (and, through the pino instrumentation, the trace id),
 * and the span gets the exception and an error status, so the trace shows
 * where it broke.
 */
const handleErrors: Middleware<AppState> = async function handleErrors(ctx, next) {
  try {
    await next();
    // No route wrote a body: Koa's bare 404, or the router's 405/501 with an Allow header.
    if (ctx.body === undefined || ctx.body === null) {
      if (ctx.status === 404) throw notFound(`no route for ${ctx.method} ${ctx.path}`);
      // 501 is what @koa/router says for a method it has never heard of
      // (PROPFIND): for the caller that is the same mistake as a 405.
      if (ctx.status === 405 || ctx.status === 501) {
        const allowed = ctx.response.get('allow') || 'none';
        throw methodNotAllowed(`${ctx.method} is not allowed on ${ctx.path}; allowed: ${allowed}`);
      }
    }
  } catch (thrown) {
    const error = asAppError(thrown);
    const span = trace.getSpan(context.active());
    if (error.status >= 500) {
      span?.recordException(thrown instanceof Error ? thrown : new Error(String(thrown)));
      span?.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
      ctx.state.log.error({ err: thrown, status: error.status }, `request failed: ${error.message}`);
    } else {
      ctx.state.log.info({ status: error.status, code: error.code }, error.message);
    }
    ctx.status = error.status;
    ctx.body = {
      error: {
        code: error.code,
        message: error.expose ? error.message : 'internal error',
        ...(error.expose && error.details !== undefined ? { details: error.details } : {}),
      },
      request_id: ctx.state.requestId,
    };
  }
};

function asAppError(thrown: unknown): AppError {
  if (thrown instanceof AppError) return thrown;
  // Koa throws http-errors (ctx.throw, ctx.assert): they carry status and expose.
  const candidate = thrown as { status?: unknown; expose?: unknown; message?: unknown };
  if (typeof candidate.status === 'number' && candidate.expose === true && candidate.status < 500) {
    return new AppError(candidate.status, 'bad_request', String(candidate.message));
  }
  return new AppError(500, 'internal', 'internal error', { cause: thrown });
}
