import { once } from 'node:events';
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { AddressInfo } from 'node:net';
import type { Logger } from '@glassbox/telemetry';
import { createManagementApp, type ManagementOptions } from './app';
import { drainWithin, type Listener } from './service';

type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

export interface HttpListenerOptions {
  app: { callback(): RequestListener };
  logger: Logger;
  /** Where to listen: the service's httpServerConfig values. */
  config: { HOST: string; PORT: number };
  /** Connections beyond this are refused at accept (the edge sets it; internal services need not). */
  maxConnections?: number;
}

/** The public Koa app on a node:http server, as a Listener: listen on start, drain on stop. */
export function httpListener(options: HttpListenerOptions): Listener {
  return serverListener('http', options.app, options.config.HOST, options.config.PORT, options.logger, {
    maxConnections: options.maxConnections,
  });
}

export interface ManagementListenerOptions extends Omit<ManagementOptions, 'adminToken'> {
  /** HOST, MANAGEMENT_PORT and ADMIN_TOKEN: the service's httpServerConfig values. */
  config: { HOST: string; MANAGEMENT_PORT: number; ADMIN_TOKEN?: string | undefined };
}

/**
 * The management app (createManagementApp: /healthz, /readyz, /metrics,
 * /admin/faults) on its own port, MANAGEMENT_PORT.
 */
export function managementListener(options: ManagementListenerOptions): Listener {
  const { config, ...management } = options;
  const app = createManagementApp({ ...management, adminToken: config.ADMIN_TOKEN });
  return serverListener('management', app, config.HOST, config.MANAGEMENT_PORT, options.logger);
}

/**
 * How long a client may take. Node's defaults let a slow client hold a
 * socket for minutes (requestTimeout 300 s, checked every 30 s); a client that
 * sends its headers or its body a byte at a time is cut within seconds here.
 */
const CLIENT_LIMITS = {
  headersTimeout: 5_000,
  requestTimeout: 10_000,
  connectionsCheckingInterval: 1_000,
  keepAliveTimeout: 5_000,
};

function serverListener(
  name: string,
  app: { callback(): RequestListener },
  host: string,
  configuredPort: number,
  logger: Logger,
  limits: { maxConnections?: number } = {},
): Listener {
  let server: Server | undefined;
  const options = { app, logger };
  return {
    name,
    async start(port = configuredPort) {
      const starting = createServer(
        {
          headersTimeout: CLIENT_LIMITS.headersTimeout,
          requestTimeout: CLIENT_LIMITS.requestTimeout,
          connectionsCheckingInterval: CLIENT_LIMITS.connectionsCheckingInterval,
          keepAliveTimeout: CLIENT_LIMITS.keepAliveTimeout,
          // Node would answer a request without Host with a bare 400; the app says why, as JSON.
          requireHostHeader: false,
        },
        options.app.callback(),
      );
      if (limits.maxConnections !== undefined) starting.maxConnections = limits.maxConnections;
      starting.on('clientError', answerClientError);
      // CONNECT asks for a tunnel; without a listener Node just drops the socket. No service tunnels.
      starting.on('connect', (_request: IncomingMessage, socket: Duplex) =>
        answerRaw(socket, 405, 'method_not_allowed', 'CONNECT is not allowed: no glassbox service opens tunnels'),
      );
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

/**
 * A request Node's HTTP parser refuses (two Content-Length headers that
 * disagree, a malformed request line, headers too large) never reaches Koa.
 * Node's default answer is a bare 400 with no body; this one says what was
 * wrong in the same JSON shape as every other error, then closes.
 */
function answerClientError(error: Error & { code?: string }, socket: Duplex): void {
  if (!socket.writable || error.code === 'ECONNRESET') {
    socket.destroy();
    return;
  }
  const [status, code, message] =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'headers_too_large', 'request headers are too large']
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'request_timeout', 'the request was not received in time']
        : [400, 'malformed_request', `the request could not be parsed (${error.code ?? 'parse error'})`];
  answerRaw(socket, status, code, message);
}

/** An answer written straight on the socket, for requests that never become a Koa request; then close. */
function answerRaw(socket: Duplex, status: number, code: string, message: string): void {
  const body = JSON.stringify({ error: { code, message } });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
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
