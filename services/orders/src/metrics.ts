import { Counter, Gauge } from 'prom-client';
import { createHttpMetrics, type HttpMetrics } from '@glassbox/telemetry';
export interface OrdersMetrics extends HttpMetrics {
  ordersPlaced: Counter;
  idempotentReplays: Counter;
  stockReleases: Counter<'outcome'>;
}

/** Where the outbox gauges read the backlog: the order repository. */
export interface OutboxBacklogSource {
  outboxBacklog(): Promise<{ pending: number; oldest: Date | undefined }>;
}

/**
 * The HTTP metrics every service has, plus what only orders knows: orders
 * placed, retries answered from their Idempotency-Key, stock given back
 * after a failed placement, and the outbox backlog. A growing backlog, or an
 * oldest event getting older, is how RabbitMQ trouble shows on a dashboard
 * before any notification goes missing; a failed release is stock that
 * stays taken until someone releases it.
 */
export function createOrdersMetrics(repository: OutboxBacklogSource): OrdersMetrics {
  const metrics = createHttpMetrics();
  const ordersPlaced = new Counter({
    name: 'orders_placed_total',
    help: 'Orders accepted and stored.',
    registers: [metrics.registry],
  });
  const idempotentReplays = new Counter({
    name: 'orders_idempotent_replays_total',
    help: 'POST /orders answered with the order an earlier request with the same Idempotency-Key placed.',
    registers: [metrics.registry],
  });
  const stockReleases = new Counter({
    name: 'orders_stock_releases_total',
    help: 'Releases of reserved stock after a placement failed, by outcome: released (stock given back), nothing_held (nothing had been taken), failed (every attempt failed; the stock stays taken).',
    labelNames: ['outcome'],
    registers: [metrics.registry],
  });
  new Gauge({
    name: 'orders_outbox_pending_events',
    help: 'Events stored with their order but not yet confirmed by RabbitMQ.',
    registers: [metrics.registry],
    async collect() {
      this.set((await repository.outboxBacklog().catch(() => ({ pending: Number.NaN }))).pending);
    },
  });
  new Gauge({
    name: 'orders_outbox_oldest_event_age_seconds',
    help: 'Age of the oldest event still waiting in the outbox; 0 when it is empty.',
    registers: [metrics.registry],
    async collect() {
      const backlog = await repository.outboxBacklog().catch(() => undefined);
      if (!backlog) return this.set(Number.NaN);
      this.set(backlog.oldest ? (Date.now() - backlog.oldest.getTime()) / 1000 : 0);
    },
  });
  return { ...metrics, ordersPlaced, idempotentReplays, stockReleases };
}
