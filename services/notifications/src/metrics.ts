import { Counter, Gauge } from 'prom-client';
import type { HttpMetrics } from '@glassbox/telemetry';

/**
 * What the consumer counts, beside the kit's HTTP metrics on the same
 * /metrics. A queue-fed service has almost no HTTP traffic: these counters
 * are its RED metrics. The dead-letter reason is a label with three values
 * (bounded), never the message or its error text.
 */
export interface NotificationMetrics {
  recorded: Counter;
  duplicates: Counter;
  retried: Counter;
  deadLettered: Counter<'reason'>;
}

/**
 * Registered in the registry the kit's /metrics serves (createApp's `metrics`
 * option). With `deadLetters`, also the depth of the dead-letter queue, read
 * from the broker at each scrape: the counter above says what this process
 * sent there, the gauge what waits there for a human, whoever sent it.
 */
export function createNotificationMetrics(
  registry: HttpMetrics['registry'],
  deadLetters?: { queue: string; count(): Promise<number> },
): NotificationMetrics {
  const registers = [registry];
  if (deadLetters) {
    new Gauge({
      name: 'notifications_dead_letter_messages',
      help: 'Messages waiting in the dead-letter queue, as RabbitMQ counts them; NaN when it could not be asked.',
      labelNames: ['queue'],
      registers,
      async collect() {
        this.set({ queue: deadLetters.queue }, await deadLetters.count());
      },
    });
  }
  return {
    recorded: new Counter({
      name: 'notifications_recorded_total',
      help: 'order.created events that produced a new notification.',
      registers,
    }),
    duplicates: new Counter({
      name: 'notifications_duplicates_total',
      help: 'Redelivered order.created events whose order already had a notification (acknowledged, nothing written).',
      registers,
    }),
    retried: new Counter({
      name: 'notifications_retried_total',
      help: 'Failed attempts sent to the retry queue for another try later.',
      registers,
    }),
    deadLettered: new Counter({
      name: 'notifications_dead_lettered_total',
      help: 'Messages given up on and sent to the dead-letter queue, by reason: malformed (not JSON), invalid (fails the schema), exhausted (every attempt failed).',
      labelNames: ['reason'],
      registers,
    }),
  };
}
