import { randomUUID } from 'node:crypto';
import { SpanStatusCode, trace, context } from '@opentelemetry/api';
import Router from '@koa/router';
import Koa, { type Middleware } from 'koa';
import { createHttpMetrics, type HttpMetrics, type Logger } from '@glassbox/telemetry';
import { readJsonBody } from './body';
import { faultRoutes, type FaultSwitches } from './faults';
import { AppError, methodNotAllowed, notFound } from './errors';
import { checkReadiness, type ReadinessCheck } from './readiness';
import type { AppState } from './state';

export interface AppOptions {
  logger: Logger;
  /** The service's own routes. */
  routes: Router;
  /** What /readyz asks: each of the service's dependencies. */
  readiness?: ReadinessCheck[];
  /**
   * The registry /metrics serves. Pass your own (from createHttpMetrics) to
   * register domain metrics beside the HTTP ones; by default one is made here.
   */
  metrics?: HttpMetrics;
  /** The faults this service can play, switched at /admin/faults when ADMIN_TOKEN is set. */
  faults?: FaultSwitches;
  adminToken?: string;
}

const REQUEST_ID = /^[\w.:-]{1,128}$/;

/**
 * The Koa app every glassbox service is built on. Order matters, outermost first:
 *   metrics      sees every request, including those that fail below it
 *   request id   accepted from the caller or made here; on every response
 *   errors       the one place where errors become JSON responses
 *   health       /healthz, /readyz, /metrics: no body parsing, no logging
 *   JSON body    413 / 415 / 400 before a route sees bad input
 *   faults       /admin/faults, behind the admin token (docs/scenarios/)
 *   routes       the service's own, then 405/501 for wrong methods
 */
export function createApp(options: AppOptions): Koa<AppState> {
  const app = new Koa<AppState>();
  const metrics = options.metrics ?? createHttpMetrics();

  const health = new Router<AppState>();
  health.get('/healthz', function live(ctx) {
    ctx.body = { status: 'ok' };
  });
  health.get('/readyz', async function ready(ctx) {
    const report = await checkReadiness(options.readiness ?? []);
    ctx.status = report.ready ? 200 : 503;
    ctx.body = report;
  });
  health.get('/metrics', async function scrape(ctx) {
    ctx.type = metrics.registry.contentType;
    ctx.body = await metrics.registry.metrics();
  });

  app.use(metrics.middleware);
  app.use(assignRequestId(options.logger));
  app.use(handleErrors);
  app.use(health.routes());
  app.use(readJsonBody);
  if (options.faults) app.use(faultRoutes(options.faults, options.adminToken).routes());
  app.use(options.routes.routes());
  app.use(options.routes.allowedMethods());
  // Koa's own 'error' event would print a second, unstructured copy of every error.
  app.silent = true;
  return app;
}

function assignRequestId(logger: Logger): Middleware<AppState> {
  return async function requestId(ctx, next) {
    const offered = ctx.get('x-request-id');
    ctx.state.requestId = REQUEST_ID.test(offered) ? offered : randomUUID();
    ctx.state.log = logger.child({ request_id: ctx.state.requestId });
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
