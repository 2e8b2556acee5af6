import { SpanStatusCode, trace } from '@opentelemetry/api';
import {
  AppError,
  orderCreatedSchema,
  type Delivery,
  type OrderCreated,
  type Verdict,
  type FaultSwitches,
} from '@glassbox/service-kit';
import type { Logger } from '@glassbox/telemetry';
import type { NotificationMetrics } from './metrics';

export interface Notification {
  id: number;
  orderId: number;
  userId: number;
  eventId: string;
  createdAt: string;
}
export type NewNotification = Pick<Notification, 'orderId' | 'userId' | 'eventId'>;

/** Where notifications are kept: PostgreSQL, or memory for fast tests (repository.ts). */
export interface NotificationRepository {
  /**
   * Records the notification of an order. False when that order has one
   * already: a redelivered event, which is success, not an error.
   */
  record(notification: NewNotification): Promise<boolean>;
  findByOrder(orderId: number): Promise<Notification | undefined>;
  /** Resolves when the store answers: what /readyz asks. */
  ping(): Promise<void>;
}

export interface RetryPolicy {
  /** Processing attempts per message, the first included. */
  maxAttempts: number;
  /** Wait between two attempts. */
  delayMs: number;
}

type Decoded = { ok: true; event: OrderCreated } | { ok: false; reason: 'malformed' | 'invalid'; problem: string };

/** Bytes to a trusted event, or why not. A message that fails here will fail every time. */
export function decodeOrderCreated(content: Buffer): Decoded {
  let json: unknown;
  try {
    json = JSON.parse(content.toString('utf8'));
  } catch (error) {
    return { ok: false, reason: 'malformed', problem: `not JSON: ${(error as Error).message}` };
  }
  const result = orderCreatedSchema.safeParse(json);
  if (result.success) return { ok: true, event: result.data };
  const problem = result.error.issues.map((issue) => `${issue.path.join('.') || 'message'}: ${issue.message}`);
  return { ok: false, reason: 'invalid', problem: problem.join('; ') };
}

const ACK: Verdict = { action: 'ack' };
const DEAD_LETTER: Verdict = { action: 'dead-letter' };

/** The faults notifications can play (docs/scenarios/). */
export const NOTIFICATIONS_FAULTS = {
  'stalled-consumer': 'each order.created message waits 3 s before it is recorded',
};

/**
 * The notifications service's logic: one order.created delivery in, one
 * verdict out. It never throws; it sorts failures in two:
 *   - the message itself is wrong (not JSON, fails the schema): retrying can
 *     not help, so it goes straight to the dead-letter queue;
 *   - recording failed: the message is fine, so it is retried after a
 *     delay. A failure of its own recording (an error, a statement timeout)
 *     counts as an attempt, up to `maxAttempts` in all, then it is
 *     dead-lettered so a stuck message can not circulate forever; the
 *     database being unreachable does not count, so an outage never
 *     dead-letters anything.
 */
export class NotificationRecorder {
  constructor(
    private readonly repository: NotificationRepository,
    private readonly policy: RetryPolicy,
    private readonly metrics: NotificationMetrics,
    private readonly logger: Logger,
    private readonly faults?: FaultSwitches,
  ) {}

  async handle(delivery: Delivery): Promise<Verdict> {
    // The consumer span the amqplib instrumentation started for this delivery.
    const span = trace.getActiveSpan();
    const decoded = decodeOrderCreated(delivery.content);
    if (!decoded.ok) {
      this.metrics.deadLettered.inc({ reason: decoded.reason });
      this.logger.error(
        { message_id: delivery.messageId, reason: decoded.reason, problem: decoded.problem },
        'unreadable order.created message; dead-lettering it',
      );
      span?.setStatus({ code: SpanStatusCode.ERROR, message: `${decoded.reason} message` });
      return DEAD_LETTER;
    }

    const { eventId, order } = decoded.event;
    // The one attribute auto-instrumentation can not know: which order this was.
    span?.setAttribute('glassbox.order.id', order.id);
    const log = this.logger.child({ order_id: order.id, event_id: eventId });
    if (this.faults?.enabled('stalled-consumer')) {
      // The scenario's bug: a slow call (a mail server, say) inside the handler.
      // With prefetch 10, at most ~3 messages a second get through.
      await new Promise((resolve) => setTimeout(resolve, 3_000));
    }
    try {
      if (await this.repository.record({ orderId: order.id, userId: order.userId, eventId })) {
        this.metrics.recorded.inc();
        log.info('notification recorded');
      } else {
        this.metrics.duplicates.inc();
        log.info('order already notified; redelivery acknowledged');
      }
      return ACK;
    } catch (error) {
      span?.recordException(error instanceof Error ? error : new Error(String(error)));
      span?.setStatus({ code: SpanStatusCode.ERROR, message: 'recording the notification failed' });
      if (error instanceof AppError && error.code === 'dependency_unavailable' && !isStatementTimeout(error)) {
        // PostgreSQL is away: not this message's fault, so the attempt is not
        // counted. However long the outage, the message waits and is recorded
        // afterwards, instead of landing in the dead-letter queue.
        this.metrics.retried.inc();
        log.warn({ err: error, delayMs: this.policy.delayMs }, 'database unavailable; retrying later');
        return { action: 'retry', delayMs: this.policy.delayMs, counted: false };
      }
      const attempts = delivery.attempts + 1;
      if (attempts >= this.policy.maxAttempts) {
        this.metrics.deadLettered.inc({ reason: 'exhausted' });
        log.error({ err: error, attempts }, 'recording failed on every attempt; dead-lettering the message');
        return DEAD_LETTER;
      }
      this.metrics.retried.inc();
      log.warn({ err: error, attempts, delayMs: this.policy.delayMs }, 'recording failed; retrying later');
      return { action: 'retry', delayMs: this.policy.delayMs };
    }
  }
}

/** SQLSTATE query_canceled: the statement ran past statement_timeout (DB_STATEMENT_TIMEOUT_MS). */
const QUERY_CANCELED = '57014';

/**
 * The kit reports a statement timeout as a 503, like an outage, but the
 * database did answer: something about this message's work (a lock held on
 * its row, a slow plan) keeps it from finishing, and an uncounted retry
 * would circulate it forever. So it counts as an attempt, and a message
 * that times out on every one of them is dead-lettered, for a human to see.
 */
function isStatementTimeout(error: AppError): boolean {
  return (error.cause as { code?: unknown } | undefined)?.code === QUERY_CANCELED;
}
