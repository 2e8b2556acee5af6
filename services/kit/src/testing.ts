/**
 * What the services' tests share: start a service on a free port, talk JSON
 * to it, and read what its logger wrote. Test support only; no service imports it.
 */
import { Writable } from 'node:stream';
import { createLogger, type Logger } from '@glassbox/telemetry';
import type { Service } from './service';

export interface Running {
  /** The public port: the service's API. */
  url: string;
  /** The management port: /healthz, /readyz, /metrics, /admin/faults. */
  management: string;
  stop(): Promise<void>;
}

/** Starts a service with every listener on a free port. */
export async function startOnFreePort(service: Service): Promise<Running> {
  const port = await service.start(0);
  return {
    url: `http://127.0.0.1:${port}`,
    management: `http://127.0.0.1:${service.ports().management}`,
    stop: () => service.stop(),
  };
}

export interface Reply {
  status: number;
  headers: Headers;
  /** Parsed JSON, or undefined for an empty body. */
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- tests read arbitrary JSON
}

/**
 * One HTTP request. `body` is sent as JSON unless `raw` is given, which is
 * sent as is (for malformed-input tests) with `contentType`.
 */
export async function call(
  base: string,
  method: string,
  path: string,
  options: { body?: unknown; raw?: string | Buffer; contentType?: string; headers?: Record<string, string> } = {},
): Promise<Reply> {
  const headers: Record<string, string> = { ...options.headers };
  let payload: string | Buffer | undefined;
  if (options.raw !== undefined) {
    payload = options.raw;
    headers['content-type'] = options.contentType ?? 'application/json';
  } else if (options.body !== undefined) {
    payload = JSON.stringify(options.body);
    headers['content-type'] = 'application/json';
  }
  const response = await fetch(base + path, { method, headers, body: payload, signal: AbortSignal.timeout(10_000) });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? (JSON.parse(text) as unknown) : undefined };
}

/** A logger whose JSON lines are kept in memory, for assertions on what was logged. */
export function captureLogs(name = 'test'): { logger: Logger; lines: () => Array<Record<string, unknown>> } {
  const written: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      written.push(chunk.toString('utf8'));
      done();
    },
  });
  const logger = createLogger({ name, level: 'debug', destination });
  return {
    logger,
    lines: () =>
      written
        .join('')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

/**
 * An OTLP/HTTP endpoint that keeps every payload it receives, by path
 * (/v1/traces, /v1/metrics, /v1/logs). The payloads are protobuf; the tests
 * look for the strings and ids they expect inside the raw bytes, which is
 * enough to prove a span or a log line arrived without decoding OTLP.
 */
export interface OtlpRecorder {
  url: string;
  received(path: string): Buffer[];
  /** Resolves when some payload on `path` contains every needle; rejects after `timeoutMs`. */
  waitFor(path: string, needles: Array<string | Buffer>, timeoutMs?: number): Promise<Buffer>;
  close(): Promise<void>;
}

export async function startOtlpRecorder(): Promise<OtlpRecorder> {
  const { createServer } = await import('node:http');
  const payloads = new Map<string, Buffer[]>();
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const path = request.url ?? '/';
      payloads.set(path, [...(payloads.get(path) ?? []), Buffer.concat(chunks)]);
      response.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const received = (path: string) => payloads.get(path) ?? [];
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    async waitFor(path, needles, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const hit = received(path).find((payload) => needles.every((needle) => payload.includes(needle)));
        if (hit) return hit;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      throw new Error(`no OTLP payload on ${path} containing ${needles.map(String).join(', ')} within ${timeoutMs} ms`);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The ports a started service logged (`{"ports":{"http":...},"msg":"started"}`), by listener name. */
export function startedPorts(output: string): Record<string, number> | undefined {
  for (const line of output.split('\n')) {
    if (!line.includes('"msg":"started"')) continue;
    return (JSON.parse(line) as { ports: Record<string, number> }).ports;
  }
  return undefined;
}

/**
 * Starts a built service the way production does: `node --require
 * @glassbox/telemetry/register <main>`, every listener on a free port, and
 * resolves once it logs that it started.
 */
export async function spawnService(
  main: string,
  env: Record<string, string>,
  timeoutMs = 15_000,
): Promise<{
  child: import('node:child_process').ChildProcess;
  url: string;
  management: string;
  ports: Record<string, number>;
  output: () => string;
}> {
  const { spawn } = await import('node:child_process');
  const preload = require.resolve('@glassbox/telemetry/register');
  const child = spawn(process.execPath, ['--require', preload, main], {
    env: { PATH: process.env.PATH, PORT: '0', MANAGEMENT_PORT: '0', GRPC_PORT: '0', HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ports = startedPorts(output);
    if (ports) {
      const local = (port: number | undefined) => `http://127.0.0.1:${port}`;
      return { child, url: local(ports.http), management: local(ports.management), ports, output: () => output };
    }
    if (child.exitCode !== null) break;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  child.kill('SIGKILL');
  throw new Error(`${main} did not start listening within ${timeoutMs} ms:\n${output}`);
}

/**
 * Where the integration tier's PostgreSQL and RabbitMQ are: `scripts/deps.sh
 * run` starts them and passes these variables (their ports come from
 * deploy/ports.env), so no test writes a port of its own.
 */
export function localDependencies(): {
  postgres: { DB_HOST: string; DB_PORT: string; DB_USER: string; DB_PASSWORD: string; DB_NAME: string };
  amqpUrl: string;
} {
  const { DB_HOST, DB_PORT, DB_USER, DB_PASSWORD, DB_NAME, AMQP_URL } = process.env;
  if (!DB_HOST || !DB_PORT || !DB_USER || !DB_PASSWORD || !DB_NAME || !AMQP_URL) {
    throw new Error(
      'DB_* and AMQP_URL are not set: run the integration tier with `npm run test:integration` ' +
        '(or `sh scripts/deps.sh run <command>`), which starts PostgreSQL and RabbitMQ and sets them',
    );
  }
  return { postgres: { DB_HOST, DB_PORT, DB_USER, DB_PASSWORD, DB_NAME }, amqpUrl: AMQP_URL };
}
