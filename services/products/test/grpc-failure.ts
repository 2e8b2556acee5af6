import type { ServiceError } from '@grpc/grpc-js';
import { AppError } from '@glassbox/service-kit';

/**
 * The client rejects with the kit's AppError; the gRPC status and the
 * server's own message stay on it as its cause, which is what these tests check.
 */
export function grpcFailure(error: unknown): ServiceError {
  if (!(error instanceof AppError)) throw new Error(`expected an AppError from the client, got ${String(error)}`);
  return error.cause as ServiceError;
}
