import { context, propagation, ROOT_CONTEXT } from '@opentelemetry/api';
import { EVENTS_EXCHANGE, ORDER_CREATED, type Part } from '@glassbox/service-kit';
import type { Logger } from '@glassbox/telemetry';
import { HOUR_MS, type OrderRepository, type OutboxEntry } from './orders';

/**
 * What the relay needs of RabbitMQ: a publish that resolves only once the
 * broker confirmed, and a connection that starts and stops with the service
 * (the kit's RabbitMq is one; tests pass a recorder).
 */
export interface EventPublisher extends Part {
  publish(exchange: string, routingKey: string, event: { eventId: string }): Promise<void>;
}

export interface RelayOptions {
  pollMs: number;
  /** How long a published event is kept (OUTBOX_RETENTION_HOURS). */
  retentionHours: number;
  batchSize?: number;
  /** How often the published events past their retention, and the expired Idempotency-Keys, are purged. */
  purgeEveryMs?: number;
  /** Rows deleted per statement when purging: small, so a purge never holds many locks for long. */
  purgeBatchSize?: number;
}

/**
 * Moves events from the outbox table to RabbitMQ. It polls (and is nudged
 * right after each order, so the usual delay is a few milliseconds), publishes
 * oldest first with publisher confirms, and marks each event published in a
 * commit of its own right after the broker confirmed it. RabbitMQ down: the
 * events wait in the table and go out when it is back. Worst case (a crash
 * between a confirm and the commit of its mark) ONE event per relay goes out
 * twice; the consumer is idempotent for exactly that reason.
 *
 * It also keeps the tables it feeds on from growing forever: once in a
 * while it purges, in small batches, the events published longer ago than
 * their retention, and the Idempotency-Keys past their expiry.
 */
export class OutboxRelay implements Part {
  readonly name = 'outbox relay';
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = true;
  private readonly lastFailure = { publish: '', purge: '' };
  private nextPurgeAt = 0;

  constructor(
    private readonly repository: OrderRepository,
    private readonly publisher: EventPublisher,
    private readonly logger: Logger,
    private readonly options: RelayOptions,
  ) {}

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  /** Publish soon: an order was just stored. */
  nudge(): void {
    if (!this.stopped && !this.running) this.schedule(0);
  }

  /** Stops polling and waits for the batch in progress (the kit bounds the wait by the shutdown deadline). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private schedule(delayMs: number): void {
    clearTimeout(this.timer);
    // A nudge comes from inside a request; without ROOT_CONTEXT the relay's
    // own SQL would be traced as part of whichever order happened to nudge it.
    this.timer = context.with(ROOT_CONTEXT, () =>
      setTimeout(() => {
        this.running = this.drain().finally(() => {
          this.running = undefined;
          if (!this.stopped) this.schedule(this.options.pollMs);
        });
      }, delayMs),
    );
  }

  private async drain(): Promise<void> {
    const batch = this.options.batchSize ?? 50;
    await this.attempt('publish', async () => {
      // A full batch means more may be waiting: keep going until the table is empty.
      while (!this.stopped && (await this.repository.drainOutbox(batch, (entry) => this.publish(entry))) === batch);
    });
    if (Date.now() >= this.nextPurgeAt) {
      this.nextPurgeAt = Date.now() + (this.options.purgeEveryMs ?? 60_000);
      await this.attempt('purge', () => this.purge());
    }
  }

  private async purge(): Promise<void> {
    const before = new Date(Date.now() - this.options.retentionHours * HOUR_MS);
    const events = await this.inBatches((limit) => this.repository.purgePublished(before, limit));
    const keys = await this.inBatches((limit) => this.repository.purgeExpiredKeys(limit));
    if (events + keys > 0) {
      this.logger.info({ events, idempotency_keys: keys }, 'purged published events and expired Idempotency-Keys');
    }
  }

  /** Deletes a batch at a time until a batch comes back short (or the relay stops); resolves with the total. */
  private async inBatches(purge: (limit: number) => Promise<number>): Promise<number> {
    const limit = this.options.purgeBatchSize ?? 500;
    let total = 0;
    for (;;) {
      const deleted = await purge(limit);
      total += deleted;
      if (deleted < limit || this.stopped) return total;
    }
  }

  /** Runs one kind of work. A failure is logged once per kind and message, not every poll, while a dependency is away. */
  private async attempt(kind: 'publish' | 'purge', work: () => Promise<void>): Promise<void> {
    try {
      await work();
      this.lastFailure[kind] = '';
    } catch (error) {
      const message = (error as Error).message;
      if (message !== this.lastFailure[kind])
        this.logger.warn({ err: error }, `outbox relay ${kind} paused: ${message}`);
      this.lastFailure[kind] = message;
    }
  }

  /**
   * Published inside the trace of the request that placed the order: the
   * amqplib instrumentation then makes the publish span a child of it and
   * puts the context in the message headers, so the consumer joins the same
   * trace however long the event waited in the table.
   */
  private publish(entry: OutboxEntry): Promise<void> {
    const placedIn = propagation.extract(ROOT_CONTEXT, entry.traceCarrier);
    return context.with(placedIn, () => this.publisher.publish(EVENTS_EXCHANGE, ORDER_CREATED, entry.event));
  }
}

/** The trace context of the active span, as W3C headers, to store beside an event. */
export function captureTraceContext(): Record<string, string> {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier;
}
