import * as grpc from '@grpc/grpc-js';
import { trace } from '@opentelemetry/api';
import type { Logger } from '@glassbox/telemetry';
import { AppError, badRequest, conflict, dependencyUnavailable, notFound, upstreamTimeout } from './errors';
import { drainWithin, type Listener } from './service';

export interface GrpcListenerOptions {
  definition: grpc.ServiceDefinition;
  handlers: grpc.UntypedServiceImplementation;
  logger: Logger;
  config: { HOST: string; GRPC_PORT: number };
}

/*
 * The gRPC side of the kit, imported as `@glassbox/service-kit/grpc` so that
 * services without gRPC never load @grpc/grpc-js.
 */

/**
 * A gRPC server as a Listener, the twin of httpListener: a test runs it
 * in-process on port 0, and a stopping process drains it the same way: stop
 * accepting, let calls in flight finish, then cut what is left.
 */
export function grpcListener(options: GrpcListenerOptions): Listener {
  let server: grpc.Server | undefined;
  return {
    name: 'grpc',
    async start(port = options.config.GRPC_PORT) {
      const starting = new grpc.Server();
      starting.addService(options.definition, options.handlers);
      const address = `${bracketed(options.config.HOST)}:${port}`;
      const taken = await new Promise<number>((resolve, reject) => {
        starting.bindAsync(address, grpc.ServerCredentials.createInsecure(), (error, bound) => {
          if (!error) return resolve(bound);
          // A server that could not bind still holds resources; a retry must start clean.
          starting.forceShutdown();
          reject(error);
        });
      });
      server = starting;
      options.logger.info({ listener: 'grpc', port: taken }, 'listening');
      return taken;
    },
    async stop(timeoutMs) {
      const stopping = server;
      server = undefined;
      if (!stopping) return;
      // tryShutdown waits for every call in flight, however long; the deadline bounds that wait.
      await drainWithin(
        new Promise<void>((resolve) => stopping.tryShutdown(() => resolve())),
        timeoutMs,
        () => stopping.forceShutdown(),
        () =>
          options.logger.warn({ timeoutMs }, 'gRPC calls still in flight after the shutdown timeout; cancelling them'),
      );
    },
  };
}

/** An IPv6 literal needs brackets before the port: [::]:50051. */
function bracketed(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

/**
 * The one table between HTTP and gRPC statuses, used both ways: a server
 * turns an AppError into a gRPC status, a client turns a gRPC status back
 * into the AppError its caller would have got over HTTP. Without it every
 * error would reach a gRPC caller as UNKNOWN, which no caller can act on.
 */
const GRPC_STATUS_BY_HTTP_STATUS: ReadonlyMap<number, grpc.status> = new Map([
  [400, grpc.status.INVALID_ARGUMENT],
  [404, grpc.status.NOT_FOUND],
  [409, grpc.status.FAILED_PRECONDITION],
  [422, grpc.status.FAILED_PRECONDITION],
  [502, grpc.status.UNAVAILABLE],
  [503, grpc.status.UNAVAILABLE],
  [504, grpc.status.DEADLINE_EXCEEDED],
]);

export function grpcStatusOf(error: unknown): grpc.status {
  return (error instanceof AppError && GRPC_STATUS_BY_HTTP_STATUS.get(error.status)) || grpc.status.INTERNAL;
}

/**
 * A failed call to `dependency`, as the AppError the caller passes on: the
 * server's own message for what the caller got wrong (400, 404, 409), a 504
 * for a passed deadline, a 503 for everything else.
 */
export function appErrorFromGrpc(dependency: string, error: grpc.ServiceError, deadlineMs: number): AppError {
  // The ServiceError stays on as the cause: its status code is what a log or a test looks at.
  const refused = (made: AppError) => Object.assign(made, { cause: error });
  switch (error.code) {
    case grpc.status.INVALID_ARGUMENT:
      return refused(badRequest(error.details));
    case grpc.status.NOT_FOUND:
      return refused(notFound(error.details));
    case grpc.status.FAILED_PRECONDITION:
      return refused(conflict(error.details));
    case grpc.status.DEADLINE_EXCEEDED:
      return upstreamTimeout(dependency, deadlineMs, error);
    default:
      return dependencyUnavailable(dependency, error);
  }
}

/**
 * Adapts a promise-returning handler to grpc-js's callback style, the gRPC
 * twin of the kit's HTTP error handler: known errors keep their message and
 * get their status; anything else is a bug, reported as INTERNAL with a
 * generic message, its stack going to the log and the span only.
 */
export function unaryHandler<Request, Response>(
  method: string,
  logger: Logger,
  handle: (request: Request) => Promise<Response>,
): grpc.handleUnaryCall<Request, Response> {
  return function handleUnary(call, callback) {
    handle(call.request).then(
      (response) => callback(null, response),
      (error: unknown) => callback(toServiceError(error, method, logger)),
    );
  };
}

function toServiceError(error: unknown, method: string, logger: Logger): grpc.ServerErrorResponse {
  const code = grpcStatusOf(error);
  const details = error instanceof AppError && error.expose ? error.message : 'internal error';
  if (code === grpc.status.INTERNAL || code === grpc.status.UNAVAILABLE) {
    const cause = (error instanceof AppError && error.cause) || error;
    trace.getActiveSpan()?.recordException(cause instanceof Error ? cause : new Error(String(cause)));
    logger.error({ err: error, grpc_code: code }, `${method} failed: ${details}`);
  } else {
    logger.info({ grpc_code: code }, `${method} refused: ${details}`);
  }
  return Object.assign(new Error(details), { code, details });
}
