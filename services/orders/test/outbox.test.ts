import assert from 'node:assert/strict';
import { newOrderCreated } from '@glassbox/service-kit';
import { captureLogs } from '@glassbox/service-kit/testing';
import { OutboxRelay, type EventPublisher } from '../src/outbox';
import { InMemoryOrderRepository } from '../src/repository';

const publisher: EventPublisher = {
  name: 'accepting publisher',
  publish: () => Promise.resolve(),
  start() {},
  stop: () => Promise.resolve(),
};

async function storeOrders(repository: InMemoryOrderRepository, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    await repository.insertWithEvent(
      { userId: 1, items: [{ productId: 1, quantity: 1, unitPriceCents: 100 }] },
      (id) => ({
        event: newOrderCreated({ id, userId: 1, items: [{ productId: 1, quantity: 1 }] }),
        traceCarrier: {},
      }),
    );
  }
}

describe('the outbox relay’s purge', () => {
  it('deletes published events past their retention, a small batch at a time, and keeps those still pending', async () => {
    const repository = new InMemoryOrderRepository();
    await storeOrders(repository, 5);
    const batches: number[] = [];
    const purgePublished = repository.purgePublished.bind(repository);
    repository.purgePublished = async (before, limit) => {
      const deleted = await purgePublished(before, limit);
      batches.push(deleted);
      return deleted;
    };
    const relay = new OutboxRelay(repository, publisher, captureLogs('orders').logger, {
      pollMs: 10,
      retentionHours: 0.00001, // 36 ms
      purgeEveryMs: 50,
      purgeBatchSize: 2,
    });
    relay.start();
    try {
      for (let i = 0; i < 100 && batches.reduce((sum, n) => sum + n, 0) < 5; i++) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      assert.deepEqual(
        batches.filter((n) => n > 0),
        [2, 2, 1],
        'five published events, purged two at a time',
      );
      await storeOrders(repository, 1);
      await relay.stop();
      assert.equal(await repository.purgePublished(new Date(), 10), 0, 'nothing published was left behind');
    } finally {
      await relay.stop();
    }
  });

  it('deletes Idempotency-Keys past their expiry, and only those', async () => {
    const repository = new InMemoryOrderRepository();
    const claim = (key: string, claimId = key) => ({ key, requestHash: 'h', claimId });
    await repository.claimKey(claim('expires at once'), { ttlMs: 1, leaseMs: 1_000 });
    await repository.claimKey(claim('kept for a minute'), { ttlMs: 60_000, leaseMs: 1_000 });
    await new Promise((resolve) => setTimeout(resolve, 5));
    let purged = 0;
    const purgeExpiredKeys = repository.purgeExpiredKeys.bind(repository);
    repository.purgeExpiredKeys = async (limit) => {
      const deleted = await purgeExpiredKeys(limit);
      purged += deleted;
      return deleted;
    };
    const relay = new OutboxRelay(repository, publisher, captureLogs('orders').logger, {
      pollMs: 10,
      retentionHours: 24,
    });
    relay.start();
    await new Promise((resolve) => setTimeout(resolve, 30));
    await relay.stop();
    assert.equal(purged, 1);
    const kept = await repository.claimKey(claim('kept for a minute', 'another'), { ttlMs: 60_000, leaseMs: 1_000 });
    assert.equal(kept.holder, 'another request', 'the live key is still held');
  });
});
