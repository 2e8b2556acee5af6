import { context, propagation, ROOT_CONTEXT } from '@opentelemetry/api';
import { EVENTS_EXCHANGE, ORDER_CREATED, type Part } from '@glassbox/service-kit';
import type { Logger } from '@glassbox/telemetry';
import type { OrderRepository, OutboxEntry } from './orders';

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
  batchSize?: number;
}

/**
 * Moves events from the outbox table to RabbitMQ. It polls (and is nudged
 * right after each order, so the usual delay is a few milliseconds), publishes
 * oldest first with publisher confirms, and marks an event published only
 * after the broker confirmed it. RabbitMQ down: the events wait in the table
 * and go out when it is back. Worst case (a crash between confirm and commit)
 * an event goes out twice; the consumer is idempotent for exactly that reason.
 */
export class OutboxRelay implements Part {
  readonly name = 'outbox relay';
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = true;
  private lastFailure = '';

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
    try {
      // A full batch means more may be waiting: keep going until the table is empty.
      while (!this.stopped && (await this.repository.drainOutbox(batch, (entry) => this.publish(entry))) === batch);
      this.lastFailure = '';
    } catch (error) {
      // Logged once per kind of failure, not every poll, while RabbitMQ or PostgreSQL is away.
      const message = (error as Error).message;
      if (message !== this.lastFailure) this.logger.warn({ err: error }, `outbox relay paused: ${message}`);
      this.lastFailure = message;
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
