import * as grpc from '@grpc/grpc-js';
import type { Service } from '@glassbox/service-kit';
import type { Logger } from '@glassbox/telemetry';

export interface GrpcServiceOptions {
  definition: grpc.ServiceDefinition;
  handlers: grpc.UntypedServiceImplementation;
  logger: Logger;
  host?: string;
  port: number;
  /** How long a stopping server lets calls in flight finish before cutting them. */
  shutdownTimeoutMs?: number;
}

/**
 * A gRPC server with the same start()/stop() as the kit's HTTP service, so a
 * test can run it in-process on port 0 and a stopping process drains it the
 * same way: stop accepting, let calls in flight finish, then cut what is left.
 */
export function createGrpcService(options: GrpcServiceOptions): Service {
  let server: grpc.Server | undefined;

  return {
    async start(port = options.port) {
      const starting = new grpc.Server();
      starting.addService(options.definition, options.handlers);
      const address = `${bracketed(options.host ?? '0.0.0.0')}:${port}`;
      const taken = await new Promise<number>((resolve, reject) => {
        starting.bindAsync(address, grpc.ServerCredentials.createInsecure(), (error, bound) => {
          if (!error) return resolve(bound);
          // A server that could not bind still holds resources; a retry must start clean.
          starting.forceShutdown();
          reject(error);
        });
      });
      server = starting;
      options.logger.info({ port: taken, protocol: 'grpc' }, 'listening');
      return taken;
    },
    async stop() {
      if (!server) return;
      const stopping = server;
      server = undefined;
      await shutdown(stopping, options.shutdownTimeoutMs ?? 10_000, options.logger);
    },
  };
}

/** tryShutdown waits for every call in flight, however long; the timeout bounds that wait. */
async function shutdown(server: grpc.Server, timeoutMs: number, logger: Logger): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const drained = new Promise<'drained'>((resolve) => server.tryShutdown(() => resolve('drained')));
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), timeoutMs);
  });
  if ((await Promise.race([drained, late])) === 'late') {
    logger.warn({ timeoutMs }, 'gRPC calls still in flight after the shutdown timeout; cancelling them');
    server.forceShutdown();
  }
  clearTimeout(timer);
}

/** An IPv6 literal needs brackets before the port: [::]:50051. */
function bracketed(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}
