import assert from 'node:assert/strict';
import { call } from '@glassbox/service-kit/testing';
import { endpoints, promQuery } from '../src/endpoints';
import { checkAnswer, HOSTILE_CASES, looksInternal, sendCase, traceresponseOf } from '../src/hostile-cases';
import { eventually } from '../src/system';

/** The gateway's 5xx series in Prometheus, as `{labels} value` lines. */
async function gatewayServerErrors(): Promise<string[]> {
  const samples = await promQuery('http_requests_total{job="gateway",status_code=~"5.."}');
  return samples.map(({ metric, value }) => `${JSON.stringify(metric)} ${value[1]}`).sort();
}

/**
 * How many users and products the stack holds. The end-to-end suite sees
 * only URLs, so "no table changed" is read through the public API; orders
 * are left out, as the load generator places them all the time.
 */
async function totals(): Promise<{ users: number; products: number }> {
  const [users, products] = await Promise.all([
    call(endpoints.gateway, 'GET', '/api/users?limit=1'),
    call(endpoints.gateway, 'GET', '/api/products?limit=1'),
  ]);
  return { users: users.body.page.total as number, products: products.body.page.total as number };
}

describe('hostile input at the running stack’s gateway: 4xx that name the problem, nothing stored, no 5xx', function () {
  this.timeout(180_000);
  let errorsBefore: string[];

  before(async () => {
    errorsBefore = await gatewayServerErrors();
  });

  for (const hostile of HOSTILE_CASES) {
    it(`${hostile.group}: ${hostile.what}`, async () => {
      const before = await totals();
      const answer = await sendCase(endpoints.gateway, hostile);
      checkAnswer(hostile, answer);
      if (hostile.group === 'traversal') assert.equal(looksInternal(answer), false, 'an internal endpoint answered');
      if (hostile.group === 'trace headers' && answer?.status === 200) {
        const recorded = traceresponseOf(answer);
        assert.ok(recorded, `a traceresponse header (is the gateway started with EDGE_TRACE_POLICY?)`);
        assert.notEqual(recorded.traceId, '0'.repeat(32));
      }
      assert.deepEqual(await totals(), before, 'no user or product was stored');
    });
  }

  it('is up afterwards, and Prometheus, once it has scraped the gateway again, shows no new 5xx series', async () => {
    const finished = Date.now() / 1000;
    assert.equal((await call(endpoints.gateway, 'GET', '/healthz')).status, 200);
    await eventually(
      async () => Number((await promQuery('timestamp(up{job="gateway"})'))[0]?.value[1] ?? 0) > finished,
      'a scrape of the gateway after the last case',
      60_000,
    );
    assert.deepEqual(await gatewayServerErrors(), errorsBefore);
  });
});
