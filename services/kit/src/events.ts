import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { rowId } from './inputs';

/**
 * The contract between the services that talk over RabbitMQ: where events are
 * published, what they look like, and where each consumer reads them. Both
 * sides import these names, so a typo can not split them apart.
 */

/** Every domain event goes to this one topic exchange; the routing key is the event type. */
export const EVENTS_EXCHANGE = 'glassbox.events';
/** Where consumers' queues send what they give up on (a direct exchange). */
export const DEAD_LETTER_EXCHANGE = 'glassbox.dead-letter';
/** The routing key, and the `type` field, of the event orders publishes. */
export const ORDER_CREATED = 'order.created';

export interface OrderCreated {
  /** Unique per event, and the AMQP messageId: a redelivery carries the same one. */
  eventId: string;
  type: typeof ORDER_CREATED;
  /** ISO 8601, when the order was placed. */
  occurredAt: string;
  order: {
    id: number;
    userId: number;
    items: { productId: number; quantity: number }[];
  };
}

/**
 * What a consumer checks before it trusts a message. Unknown fields are
 * dropped, not refused: a publisher may add a field without breaking the
 * consumers that do not know it yet (the tolerant-reader rule).
 */
export const orderCreatedSchema: z.ZodType<OrderCreated> = z.object({
  eventId: z.uuid(),
  type: z.literal(ORDER_CREATED),
  occurredAt: z.iso.datetime({ offset: true }),
  order: z.object({
    id: rowId,
    userId: rowId,
    items: z.array(z.object({ productId: rowId, quantity: z.number().int().positive() })).min(1),
  }),
});

/** A new event for an order that was just stored. */
export function newOrderCreated(order: OrderCreated['order'], occurredAt = new Date()): OrderCreated {
  return { eventId: randomUUID(), type: ORDER_CREATED, occurredAt: occurredAt.toISOString(), order };
}

/**
 * The queues one consumer reads one kind of event from:
 *   queue            where deliveries arrive (bound to exchange + routingKey)
 *   retryQueue       where a failed message waits out its delay, then flows back to `queue`
 *   deadLetterQueue  where poison and exhausted messages rest, for a human to look at
 */
export interface ConsumerQueues {
  exchange: string;
  routingKey: string;
  queue: string;
  retryQueue: string;
  deadLetterExchange: string;
  deadLetterQueue: string;
}

/** notifications' subscription to order.created. */
export const NOTIFICATIONS_ORDER_CREATED: ConsumerQueues = {
  exchange: EVENTS_EXCHANGE,
  routingKey: ORDER_CREATED,
  queue: 'notifications.order-created',
  retryQueue: 'notifications.order-created.retry',
  deadLetterExchange: DEAD_LETTER_EXCHANGE,
  deadLetterQueue: 'notifications.order-created.dead',
};
