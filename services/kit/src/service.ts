import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { flushTelemetry, type Logger } from '@glassbox/telemetry';

export interface Service {
  /** Listens on `port` (0: any free port) and resolves with the port taken. */
  start(port?: number): Promise<number>;
  /**
   * Graceful stop: stop accepting, let requests in flight finish (up to the
   * shutdown timeout), then run the service's own closers (pools, channels).
   */
  stop(): Promise<void>;
}

export interface HttpServiceOptions {
  app: { callback(): (req: IncomingMessage, res: ServerResponse) => void };
  logger: Logger;
  /** Where to listen and how long to drain: the service's httpServerConfig values. */
  config: { HOST: string; PORT: number; SHUTDOWN_TIMEOUT_MS: number };
  /** Called after the server has drained, in order: close pools, channels... */
  closers?: Array<() => Promise<void>>;
}

export function createHttpService(options: HttpServiceOptions): Service {
  let server: Server | undefined;
  const closers = options.closers ?? [];

  return {
    async start(port = options.config.PORT) {
      server = createServer(options.app.callback());
      // Node's defaults let a slow client hold a socket for minutes.
      server.requestTimeout = 30_000;
      server.headersTimeout = 10_000;
      server.listen(port, options.config.HOST);
      await once(server, 'listening');
      const taken = (server.address() as AddressInfo).port;
      options.logger.info({ port: taken }, 'listening');
      return taken;
    },
    async stop() {
      if (server) await drain(server, options.config.SHUTDOWN_TIMEOUT_MS, options.logger);
      server = undefined;
      for (const close of closers) await close();
    },
  };
}

/** Stops accepting, waits for in-flight requests, then cuts what is left. */
async function drain(server: Server, timeoutMs: number, logger: Logger): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  // Keep-alive sockets with no request on them would hold close() open until
  // their keep-alive timeout; a connection whose last request finishes during
  // the drain becomes idle later, so keep closing idle ones until all are gone.
  server.closeIdleConnections();
  const sweeper = setInterval(() => server.closeIdleConnections(), 50);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), timeoutMs);
  });
  if ((await Promise.race([closed, late])) === 'late') {
    logger.warn({ timeoutMs }, 'requests still in flight after the shutdown timeout; closing their connections');
    server.closeAllConnections();
    await closed;
  }
  clearTimeout(timer);
  clearInterval(sweeper);
}

/**
 * The process around a service, for main.ts: start it, and on SIGTERM or
 * SIGINT stop it gracefully, flush telemetry, and exit. A failure to start
 * (bad config, port taken) exits non-zero with the reason on stderr.
 */
export function runService(name: string, build: () => Promise<{ service: Service; logger: Logger }>): void {
  let stopping = false;
  void (async () => {
    const { service, logger } = await build();
    const stop = async (signal: string) => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, 'stopping');
      try {
        await service.stop();
      } catch (error) {
        logger.error({ err: error }, 'error while stopping');
      }
      logger.info('stopped');
      logger.flush();
      await flushTelemetry();
      process.exit(0);
    };
    process.on('SIGTERM', () => void stop('SIGTERM'));
    process.on('SIGINT', () => void stop('SIGINT'));
    await service.start();
  })().catch((error: unknown) => {
    process.stderr.write(`${name}: failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
    void flushTelemetry(1000).finally(() => process.exit(1));
  });
}
