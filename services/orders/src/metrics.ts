import { Counter, Gauge } from 'prom-client';
import { createHttpMetrics, type HttpMetrics } from '@glassbox/telemetry';
import type { OrderRepository } from './orders';

export interface OrdersMetrics extends HttpMetrics {
  ordersPlaced: Counter;
}

/**
 * The HTTP metrics every service has, plus what only orders knows: orders
 * placed, and the outbox backlog. A growing backlog, or an oldest event
 * getting older, is how RabbitMQ trouble shows on a dashboard before any
 * notification goes missing.
 */
export function createOrdersMetrics(repository: OrderRepository): OrdersMetrics {
  const metrics = createHttpMetrics();
  const ordersPlaced = new Counter({
    name: 'orders_placed_total',
    help: 'Orders accepted and stored.',
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
  return { ...metrics, ordersPlaced };
}
