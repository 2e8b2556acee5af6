import assert from 'node:assert/strict';
import { ConfigError } from '@glassbox/service-kit';
import { readConfig } from '../src/config';

describe('orders configuration', () => {
  it('keeps Idempotency-Keys and published outbox events for 24 hours by default', () => {
    const config = readConfig({ STORAGE: 'memory' });
    assert.equal(config.IDEMPOTENCY_TTL_HOURS, 24);
    assert.equal(config.OUTBOX_RETENTION_HOURS, 24);
  });

  it('accepts a fraction of an hour', () => {
    const config = readConfig({ STORAGE: 'memory', IDEMPOTENCY_TTL_HOURS: '0.5', OUTBOX_RETENTION_HOURS: '168' });
    assert.equal(config.IDEMPOTENCY_TTL_HOURS, 0.5);
    assert.equal(config.OUTBOX_RETENTION_HOURS, 168);
  });

  for (const variable of ['IDEMPOTENCY_TTL_HOURS', 'OUTBOX_RETENTION_HOURS']) {
    for (const value of ['0', '-1', 'a day', '100000']) {
      it(`refuses ${variable}=${value}, naming the variable`, () => {
        assert.throws(
          () => readConfig({ STORAGE: 'memory', [variable]: value }),
          (error: Error) => error instanceof ConfigError && new RegExp(`^\\s+${variable}: `, 'm').test(error.message),
        );
      });
    }
  }
});
