import { flushTelemetry, createLogger, type Logger } from '@glassbox/telemetry';
import { withTimeout } from './readiness';

/**
 * A piece of a service that runs between start and stop: a listener (HTTP,
 * gRPC), a background worker (the outbox relay, a RabbitMQ consumer), a
 * broker connection. The kit starts and stops them all the same way.
 */
export interface Part {
  /** Named in logs: "http", "grpc", "outbox relay", "rabbitmq". */
  readonly name: string;
  start(): Promise<unknown> | void;
  /** Stops within `timeoutMs`: the time left of the service's one shutdown deadline. */
  stop(timeoutMs: number): Promise<void>;
}

/** A Part that takes traffic on a port. */
export interface Listener extends Part {
  /** Listens on `port` (0: any free port; omitted: the configured one) and resolves with the port taken. */
  start(port?: number): Promise<number>;
}

export interface Service {
  /**
   * Starts every part; resolves with the port of the first listener. Each
   * listener takes its configured port, except with `start(0)` (tests), where
   * every listener takes a free one: ports() says which.
   */
  start(port?: number): Promise<number>;
  /** The ports taken, by listener name: `{ http: 8082, grpc: 50051 }`. */
  ports(): Record<string, number>;
  /**
   * Stops every part in reverse, then runs the closers, all by `deadline`
   * (a Date.now() value; by default SHUTDOWN_TIMEOUT_MS from now).
   */
  stop(deadline?: number): Promise<void>;
}

export interface ServiceOptions {
  logger: Logger;
  config: { SHUTDOWN_TIMEOUT_MS: number };
  /** Background work: started first, in order, so it is ready before traffic comes; stopped last. */
  workers?: Part[];
  /** What takes traffic: started after the workers, stopped (drained) first. */
  listeners: Listener[];
  /** Run last, in order, once nothing can use them any more: pools, clients. */
  closers?: Array<() => Promise<void> | void>;
}

/**
 * Closers still get this long when the drain used up the deadline: ending a
 * pool's connections politely is quick, and saves the database a broken pipe.
 */
const CLOSER_FLOOR_MS = 250;

/**
 * The one lifecycle of every glassbox service. Start: workers, then
 * listeners, in order; if one fails, what already started is stopped again
 * (half a service is worse than none). Stop: listeners in reverse (they stop
 * accepting and drain), then workers in reverse, then the closers, every step
 * bounded by what is left of one deadline, so a stuck step can not hold the
 * process past its orchestrator's grace period.
 */
export function createService(options: ServiceOptions): Service {
  const { logger } = options;
  const workers = options.workers ?? [];
  const closers = options.closers ?? [];
  const [main, ...others] = options.listeners;
  if (!main) throw new Error('a service needs at least one listener');
  let started: Part[] = [];
  let bound: Record<string, number> = {};

  async function stopStarted(deadline: number): Promise<void> {
    for (const part of started.reverse()) {
      await step(part.name, (timeoutMs) => part.stop(timeoutMs), deadline, logger);
    }
    started = [];
    bound = {};
  }

  return {
    async start(port) {
      try {
        for (const worker of workers) {
          await worker.start();
          started.push(worker);
        }
        bound[main.name] = await main.start(port);
        started.push(main);
        for (const listener of others) {
          bound[listener.name] = await listener.start(port === 0 ? 0 : undefined);
          started.push(listener);
        }
        logger.info({ ports: bound }, 'started');
      } catch (error) {
        await stopStarted(Date.now() + options.config.SHUTDOWN_TIMEOUT_MS);
        throw error;
      }
      return bound[main.name] as number;
    },
    ports() {
      if (started.length === 0) throw new Error('the service is not started');
      return { ...bound };
    },
    async stop(deadline = Date.now() + options.config.SHUTDOWN_TIMEOUT_MS) {
      await stopStarted(deadline);
      for (const close of closers) {
        await step('closer', async () => close(), Math.max(deadline, Date.now() + CLOSER_FLOOR_MS), logger);
      }
    },
  };
}

/** Runs one shutdown step with what is left of the deadline; a step that overruns is logged and left behind. */
async function step(
  name: string,
  run: (timeoutMs: number) => Promise<void>,
  deadline: number,
  logger: Logger,
): Promise<void> {
  const timeoutMs = Math.max(0, deadline - Date.now());
  try {
    await withTimeout(run(timeoutMs), timeoutMs, `${name} did not stop within ${timeoutMs} ms`);
  } catch (error) {
    logger.warn({ err: error, part: name }, `stopping ${name} failed; going on with the shutdown`);
  }
}

/**
 * Waits for `graceful` to settle within `timeoutMs`; if it does not, calls
 * `force` (cut connections, cancel calls) and waits for `graceful` once more.
 * The HTTP and gRPC listeners drain this way.
 */
export async function drainWithin(
  graceful: Promise<void>,
  timeoutMs: number,
  force: () => void,
  onLate: () => void,
): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), timeoutMs);
  });
  try {
    if ((await Promise.race([graceful.then(() => 'done' as const), late])) === 'late') {
      onLate();
      force();
      await graceful;
    }
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The last part of the shutdown deadline, kept for flushing telemetry: the
 * spans of the last requests are worth the most (they show what the
 * shutdown did to them).
 */
const TELEMETRY_FLUSH_MS = 2_000;

/**
 * The process around a service, for main.ts: read the config, build the
 * service, start it, and on SIGTERM or SIGINT stop it, flush telemetry, and
 * exit, all within SHUTDOWN_TIMEOUT_MS, which stays below the orchestrator's
 * grace period (compose's stop_grace_period, Kubernetes'
 * terminationGracePeriodSeconds) so the process exits before it is killed.
 * A failure to start (bad config, port taken) exits non-zero with the reason
 * on stderr.
 */
export function runService<C extends { SHUTDOWN_TIMEOUT_MS: number }>(
  name: string,
  readConfig: () => C,
  build: (config: C, logger: Logger) => Promise<Service>,
): void {
  let stopping = false;
  void (async () => {
    const config = readConfig();
    const logger = createLogger({ name });
    const service = await build(config, logger);
    const stop = async (signal: string) => {
      if (stopping) return;
      stopping = true;
      const deadline = Date.now() + config.SHUTDOWN_TIMEOUT_MS;
      const flushMs = Math.min(TELEMETRY_FLUSH_MS, config.SHUTDOWN_TIMEOUT_MS / 4);
      logger.info({ signal, shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS }, 'stopping');
      await service.stop(deadline - flushMs);
      logger.info('stopped');
      logger.flush();
      await flushTelemetry(Math.max(100, deadline - Date.now()));
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
