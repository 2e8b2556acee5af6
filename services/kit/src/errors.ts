/**
 * One error type for everything a service means to say to its caller.
 *
 * `status` is the HTTP status, `code` a stable machine-readable word, `expose`
 * whether the message may reach the client (Koa's convention), `catastrophic`
 * whether the process can no longer be trusted and should stop (practica's).
 * Anything thrown that is not an AppError is a bug: it becomes a 500 with a
 * generic body, and its stack goes only to the log.
 */
export class AppError extends Error {
  readonly status: number;
  readonly code: string;
  readonly expose: boolean;
  readonly catastrophic: boolean;
  readonly details: unknown;

  constructor(
    status: number,
    code: string,
    message: string,
    options: { details?: unknown; cause?: unknown; catastrophic?: boolean } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'AppError';
    this.status = status;
    this.code = code;
    this.expose = status < 500 || status === 502 || status === 503 || status === 504;
    this.catastrophic = options.catastrophic ?? false;
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
export const conflict = (message: string, details?: unknown) => new AppError(409, 'conflict', message, { details });
export const unprocessable = (message: string, details?: unknown) =>
  new AppError(422, 'unprocessable', message, { details });

/** A dependency (database, broker, another service) did not answer: not our bug, and not forever. */
export const dependencyUnavailable = (dependency: string, cause?: unknown) =>
  new AppError(503, 'dependency_unavailable', `${dependency} is unavailable`, { cause, details: { dependency } });
