import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '@glassbox/telemetry';
import { drainWithin, type Listener } from './service';

type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

export interface HttpListenerOptions {
  app: { callback(): RequestListener };
  logger: Logger;
  /** Where to listen: the service's httpServerConfig values. */
  config: { HOST: string; PORT: number };
}

/** The public Koa app on a node:http server, as a Listener: listen on start, drain on stop. */
export function httpListener(options: HttpListenerOptions): Listener {
  return serverListener('http', options.app, options.config.HOST, options.config.PORT, options.logger);
}

export interface ManagementListenerOptions {
  app: { callback(): RequestListener };
  logger: Logger;
  config: { HOST: string; MANAGEMENT_PORT: number };
}

/** The management app (createManagementApp) on its own port. */
export function managementListener(options: ManagementListenerOptions): Listener {
  return serverListener('management', options.app, options.config.HOST, options.config.MANAGEMENT_PORT, options.logger);
}

function serverListener(
  name: string,
  app: { callback(): RequestListener },
  host: string,
  configuredPort: number,
  logger: Logger,
): Listener {
  let server: Server | undefined;
  const options = { app, logger };
  return {
    name,
    async start(port = configuredPort) {
      const starting = createServer(options.app.callback());
      // Node's defaults let a slow client hold a socket for minutes.
      starting.requestTimeout = 30_000;
      starting.headersTimeout = 10_000;
      starting.listen(port, host);
      await once(starting, 'listening');
      server = starting;
      const taken = (server.address() as AddressInfo).port;
      options.logger.info({ listener: name, port: taken }, 'listening');
      return taken;
    },
    async stop(timeoutMs) {
      const stopping = server;
      server = undefined;
      if (stopping) await drain(stopping, timeoutMs, options.logger);
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
  try {
    await drainWithin(
      closed,
      timeoutMs,
      () => server.closeAllConnections(),
      () =>
        logger.warn({ timeoutMs }, 'requests still in flight after the shutdown timeout; closing their connections'),
    );
  } finally {
    clearInterval(sweeper);
  }
}
