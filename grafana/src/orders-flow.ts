/**
 * Orders flow: the one business flow of glassbox, end to end. An order is
 * stored with an order.created event in the outbox (orders), the outbox is
 * published to RabbitMQ, and the notifications service consumes it.
 *
 *   orders_placed_total, orders_outbox_pending_events,
 *   orders_outbox_oldest_event_age_seconds      services/orders/src/metrics.ts
 *   notifications_*_total                       services/notifications/src/metrics.ts
 *   rabbitmq_*                                  RabbitMQ's rabbitmq_prometheus plugin (:15692)
 *
 * RabbitMQ's default endpoint (/metrics) aggregates: rabbitmq_queue_* sum
 * over every queue of the broker (order.created, its retry queue, its
 * dead-letter queue), with no queue label. Per-queue series are on
 * /metrics/per-object, which glassbox does not scrape (one series per queue
 * and metric is more than a demo needs).
 *
 * Below the numbers, one order's whole trace: the gateway's POST /api/orders,
 * orders' calls to users (HTTP) and products (gRPC), the SQL, the publish to
 * RabbitMQ and the notifications consumer, in a trace panel. Grafana can not
 * pick "the most recent trace" by itself (a variable can not be filled from a
 * Jaeger search), so the table of recent orders above it, most recent first,
 * shows each order's trace in that panel with a click; an order id or a trace
 * id can be pasted into the variables at the top as well.
 */
import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { jaegerTraceLink } from './jaeger';
import { assemble, guidePanel, textboxVariable, timeSeriesPanel, tracePanel, traceTablePanel } from './panels';

const UID = 'glassbox-orders-flow';

/**
 * The orders table's trace ids open the trace in Explore, as Grafana's own
 * link does, or show it in this dashboard's trace panel: the same dashboard
 * with $trace_id set to the row's trace, the time range and order id kept.
 */
const TRACE_ID_LINKS = [
  jaegerTraceLink('Open this trace in Explore', '${__value.raw}'),
  {
    title: 'Show this trace in the panel below',
    url: `/d/${UID}/orders-flow?\${__url_time_range}&\${order_id:queryparam}&var-trace_id=\${__value.raw}`,
  },
];

const perSecond = (metric: string, by = '') => `sum${by ? ` by (${by})` : ''} (rate(${metric}[$__rate_interval]))`;

export function ordersFlow(): dashboard.Dashboard {
  return assemble({
    uid: UID,
    title: 'Orders flow',
    description:
      'Orders placed, the outbox, RabbitMQ and the notifications consumer: the order.created flow end to end, and the trace of one order.',
    variables: [
      textboxVariable({
        name: 'order_id',
        label: 'Order id',
        description:
          'An order id (the "id" of POST /api/orders\'s answer, or order_id in an "order placed" log line): the "Trace of order" table finds its trace.',
        defaultValue: '',
      }),
      textboxVariable({
        name: 'trace_id',
        label: 'Trace id',
        description:
          'The trace the trace panel shows: 32 hex digits, pasted, or set by clicking a trace id in a table of this dashboard.',
        defaultValue: '',
      }),
    ],
    panels: [
      guidePanel(
        `
**One order, three hops:** orders stores the order and an order.created event in its **outbox** (one transaction),
publishes the outbox to **RabbitMQ**, and **notifications** consumes the event and records a notification.

1. **Orders placed** and **notifications recorded** should track each other. When they part, follow the flow:
2. a growing **outbox backlog** (and an **oldest event** getting older) means orders can not publish: RabbitMQ is
   down or refusing; a growing **queue depth** with **0 consumers** means notifications stopped consuming;
   **retried** or **dead-lettered** events mean it consumes but fails.
3. At the bottom, **one order's trace**: click a trace id in **Recent orders** (the first row is the most recent
   order) and pick **Show this trace in the panel below**, or paste an **Order id** or a **Trace id** at the top.
`,
        7,
      ),
      timeSeriesPanel({
        title: 'Orders placed and notifications recorded per second',
        description:
          'Orders accepted and stored per second (orders_placed_total), and order.created events that produced a new notification per second (notifications_recorded_total). In a healthy flow the two lines lie on each other, the second a moment behind.',
        unit: 'suffix:events/s',
        width: 24,
        queries: [
          { expr: perSecond('orders_placed_total'), legend: 'orders placed' },
          { expr: perSecond('notifications_recorded_total'), legend: 'notifications recorded' },
        ],
      }),
      timeSeriesPanel({
        title: 'Outbox backlog (events waiting to be published)',
        description:
          'order.created events stored with their order but not yet confirmed by RabbitMQ (orders_outbox_pending_events). Near 0 when all is well: the relay publishes within a poll interval. Growing: orders can not reach RabbitMQ, and nothing is lost, only late.',
        unit: 'short',
        queries: [{ expr: 'orders_outbox_pending_events', legend: 'pending events' }],
      }),
      timeSeriesPanel({
        title: 'Age of the oldest unpublished outbox event (s)',
        description:
          'How long the oldest event still in the outbox has waited (orders_outbox_oldest_event_age_seconds); 0 when the outbox is empty. This is the delay a notification will have, at least.',
        unit: 's',
        queries: [{ expr: 'orders_outbox_oldest_event_age_seconds', legend: 'oldest event' }],
      }),
      timeSeriesPanel({
        title: 'RabbitMQ queue depth, all queues (messages)',
        description:
          'Messages in the broker’s queues, summed over every queue (order.created, its retry and dead-letter queues): ready (waiting for a consumer) and unacknowledged (delivered, being processed). Ready growing means the consumer is gone or too slow.',
        unit: 'short',
        queries: [
          { expr: 'sum(rabbitmq_queue_messages_ready)', legend: 'ready' },
          { expr: 'sum(rabbitmq_queue_messages_unacked)', legend: 'unacknowledged' },
        ],
      }),
      timeSeriesPanel({
        title: 'Consumers attached to queues',
        description:
          'Consumers subscribed to the broker’s queues (rabbitmq_queue_consumers, summed). The notifications service holds one; 0 means nobody is consuming order.created and the queue will only grow.',
        unit: 'short',
        queries: [{ expr: 'sum(rabbitmq_queue_consumers)', legend: 'consumers' }],
      }),
      timeSeriesPanel({
        title: 'RabbitMQ publish, deliver and acknowledge rates (messages/s)',
        description:
          'Messages per second the broker received from publishers (the outbox relay), delivered to consumers, and had acknowledged by them (rabbitmq_global_messages_*). Received above acknowledged for long means messages pile up in a queue.',
        unit: 'suffix:messages/s',
        queries: [
          { expr: perSecond('rabbitmq_global_messages_received_total'), legend: 'received from publishers' },
          {
            expr: perSecond('rabbitmq_global_messages_delivered_consume_manual_ack_total'),
            legend: 'delivered to consumers',
          },
          { expr: perSecond('rabbitmq_global_messages_acknowledged_total'), legend: 'acknowledged by consumers' },
        ],
      }),
      timeSeriesPanel({
        title: 'order.created events handled by notifications, by outcome (events/s)',
        description:
          'What the consumer did with each event, per second: recorded a new notification; skipped a duplicate (a redelivery of an event already recorded); sent it to the retry queue after a failed attempt; or dead-lettered it, by reason (malformed, invalid, exhausted). The dead-letter counter appears with its first message, so that query falls back to 0 until then.',
        unit: 'suffix:events/s',
        queries: [
          { expr: perSecond('notifications_recorded_total'), legend: 'recorded' },
          { expr: perSecond('notifications_duplicates_total'), legend: 'duplicate, skipped' },
          { expr: perSecond('notifications_retried_total'), legend: 'retried later' },
          {
            expr: `${perSecond('notifications_dead_lettered_total', 'reason')} or 0 * ${perSecond('notifications_recorded_total')}`,
            legend: 'dead-lettered {{reason}}',
          },
        ],
      }),
      traceTablePanel({
        title: 'Recent orders, most recent first (click a trace id to show it below)',
        description:
          'The 10 most recent traces with a POST /api/orders span of the gateway (a Jaeger search: service gateway, operation POST /api/orders, limit 10), most recent first: every order placed through the public API, whether it succeeded or not. Click a trace id and pick "Show this trace in the panel below" (or open it in Explore).',
        search: { service: 'gateway', operation: 'POST /api/orders', limit: 10 },
        traceIdLinks: TRACE_ID_LINKS,
      }),
      traceTablePanel({
        title: 'Trace of order $order_id (paste an order id above)',
        description:
          'The trace in which orders placed the order whose id is in Order id above: a Jaeger search for the span of orders that carries the attribute glassbox.order.id=$order_id, limit 1. orders sets that attribute on the span active when it stores the order: the server span of POST /orders (the search names it, so a later GET /orders/:id of the same order is not found instead). Empty until an order id is set. Click the trace id to show the trace below.',
        search: { service: 'orders', operation: 'POST /orders', tags: 'glassbox.order.id=$order_id', limit: 1 },
        traceIdLinks: TRACE_ID_LINKS,
      }),
      tracePanel({
        title: 'One order, end to end: trace $trace_id',
        description:
          "The whole trace of one order, from Jaeger (the trace id in Trace id above): the gateway's POST /api/orders, orders' POST /orders with its HTTP call to users and gRPC call to products, the SQL of each, the publish to RabbitMQ, and the notifications consumer with its own SQL, each span on one timeline. Empty until a trace id is set: click one in Recent orders.",
        traceId: '$trace_id',
      }),
    ],
  });
}
