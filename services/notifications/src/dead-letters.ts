import { connect, type Channel, type ChannelModel } from 'amqplib';
import { withTimeout } from '@glassbox/service-kit';

export interface QueueDepthOptions {
  /** How long a count is served before the broker is asked again: a scrape interval or so. */
  cacheMs?: number;
  /** The longest one look at the broker may take; past it, the depth is unknown (NaN). */
  timeoutMs?: number;
}

/**
 * How many messages wait in one queue (the dead-letter queue), as RabbitMQ
 * counts them (checkQueue). A message can get there without this process
 * counting it (a handler bug, another replica, a broker policy), so the
 * broker is the one to ask.
 *
 * A /metrics scrape must answer even when the broker does not: a count,
 * or the failure to get one (NaN: unknown), is served for `cacheMs`; a
 * look that takes longer than `timeoutMs` is given up; scrapes that come in
 * while a look is under way share it. It uses a connection of its own, opened
 * on the first look and again after any failure, because the kit's RabbitMq
 * does not lend its channels.
 */
export class QueueDepth {
  private connection: ChannelModel | undefined;
  private channel: Channel | undefined;
  private last: { count: number; at: number } | undefined;
  private looking: Promise<number> | undefined;
  private closed = false;

  constructor(
    private readonly url: string,
    readonly queue: string,
    private readonly options: QueueDepthOptions = {},
  ) {}

  count(): Promise<number> {
    if (this.last && Date.now() - this.last.at < (this.options.cacheMs ?? 10_000)) {
      return Promise.resolve(this.last.count);
    }
    const timeoutMs = this.options.timeoutMs ?? 2_000;
    this.looking ??= withTimeout(this.look(timeoutMs), timeoutMs, `RabbitMQ did not answer within ${timeoutMs} ms`)
      .catch(() => {
        this.forget();
        return Number.NaN;
      })
      .then((count) => {
        this.last = { count, at: Date.now() };
        this.looking = undefined;
        return count;
      });
    return this.looking;
  }

  async close(): Promise<void> {
    this.closed = true;
    const connection = this.connection;
    this.forget();
    await connection?.close().catch(() => undefined);
  }

  private async look(timeoutMs: number): Promise<number> {
    this.channel ??= await this.open(timeoutMs);
    return (await this.channel.checkQueue(this.queue)).messageCount;
  }

  private async open(timeoutMs: number): Promise<Channel> {
    const connection = await connect(this.url, { timeout: timeoutMs });
    // Without 'error' listeners a broker going away would crash the process; the next look reconnects.
    connection.on('error', () => undefined);
    connection.on('close', () => this.connection === connection && this.forget());
    const channel = await connection.createChannel();
    // checkQueue of a queue that does not exist closes the channel: the next look opens a new one.
    channel.on('error', () => undefined);
    channel.on('close', () => this.channel === channel && (this.channel = undefined));
    if (this.closed) {
      await connection.close().catch(() => undefined);
      throw new Error('closed');
    }
    this.connection = connection;
    return channel;
  }

  private forget(): void {
    const connection = this.connection;
    this.connection = undefined;
    this.channel = undefined;
    connection?.close().catch(() => undefined);
  }
}
