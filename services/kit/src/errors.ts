/**
 * One error type for everything a service means to say to its caller.
 *
 * `status` is the HTTP status, `code` a stable machine-readable word, `expose`
 * whether the message may reach the client (Koa's convention). Anything
 * thrown that is not an AppError is a bug: it becomes a 500 with a generic
 * body, and its stack goes only to the log.
 *
 * Make errors with the helpers below, never with `new AppError` in a service:
 * one helper per kind of failure keeps every body of that kind the same shape.
 */
export class AppError extends Error {
  readonly status: number;
  readonly code: string;
  readonly expose: boolean;
  readonly details: unknown;

  constructor(status: number, code: string, message: string, options: { details?: unknown; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'AppError';
    this.status = status;
    this.code = code;
    // 502/503/504 say which dependency failed, which the caller may know; a 500 is our bug and says nothing.
    this.expose = status < 500 || status === 502 || status === 503 || status === 504;
    this.details = options.details;
  }
}

export interface FieldProblem {
  field: string;
  message: string;
}

export const badRequest = (message: string, details?: FieldProblem[]) =>
  new AppError(400, 'validation_failed', message, { details });
export const notFound = (message: string) => new AppError(404, 'not_found', message);
export const methodNotAllowed = (message: string) => new AppError(405, 'method_not_allowed', message);
export const conflict = (message: string, details?: unknown) => new AppError(409, 'conflict', message, { details });
export const unprocessable = (message: string, details?: unknown) =>
  new AppError(422, 'unprocessable', message, { details });

/*
 * A dependency failed: not our bug, and not forever. The three kinds share one
 * body, `details.dependency` naming who failed, so a dashboard or a caller can
 * tell "users timed out" from "PostgreSQL is down" without parsing messages.
 */

/** 503: the dependency (database, broker, another service) is down or refused. */
export const dependencyUnavailable = (dependency: string, cause?: unknown, message = `${dependency} is unavailable`) =>
  new AppError(503, 'dependency_unavailable', message, { cause, details: { dependency } });

/** 504: the dependency did not answer within the time we give it. */
export const upstreamTimeout = (dependency: string, timeoutMs: number, cause?: unknown) =>
  new AppError(504, 'upstream_timeout', `${dependency} did not answer within ${timeoutMs} ms`, {
    cause,
    details: { dependency },
  });

/** 502: the dependency could not be reached at all (connection refused, DNS). */
export const upstreamUnreachable = (dependency: string, cause?: unknown) =>
  new AppError(502, 'upstream_unreachable', `${dependency} could not be reached`, { cause, details: { dependency } });
