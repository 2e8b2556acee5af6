import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, placeOrderThroughThePage, type PlacedOrder } from '../src/browser';
import { endpoints, jaegerTrace, type JaegerSpan, type JaegerTrace } from '../src/endpoints';
import { eventually } from '../src/system';

const SERVICES = ['web', 'gateway', 'users', 'products', 'orders', 'notifications'];
const serviceOf = (trace: JaegerTrace, span: JaegerSpan) => trace.processes[span.processID]?.serviceName ?? '';
const parentIdOf = (span: JaegerSpan) => span.references.find((r) => r.refType === 'CHILD_OF')?.spanID;
const tag = (span: JaegerSpan, key: string) => span.tags.find((t) => t.key === key)?.value;

/**
 * Complete: every service has reported, the consumer's own PostgreSQL INSERT
 * is in (the last thing an order causes), and every span's parent has
 * arrived. The page exports its spans as they end, and the fetch span ends
 * last (its instrumentation waits for the resource timing), so the click span
 * can be in Jaeger a batch before the fetch span the gateway's span hangs from.
 */
function complete(trace: JaegerTrace | undefined): trace is JaegerTrace {
  if (!trace) return false;
  const services = new Set(trace.spans.map((span) => serviceOf(trace, span)));
  const consumerStored = trace.spans.some(
    (span) => serviceOf(trace, span) === 'notifications' && tag(span, 'db.system.name') === 'postgresql',
  );
  const ids = new Set(trace.spans.map((span) => span.spanID));
  const whole = trace.spans.every((span) => !parentIdOf(span) || ids.has(parentIdOf(span)!));
  return consumerStored && whole && SERVICES.every((service) => services.has(service));
}

/** Runs in the page (this project compiles without the DOM's types, so it travels as text). */
const COUNT_COLOURS = `async (base64) => {
  const image = new Image();
  image.src = 'data:image/png;base64,' + base64;
  await image.decode();
  const canvas = document.createElement('canvas');
  canvas.width = image.width;
  canvas.height = image.height;
  const context = canvas.getContext('2d');
  context.drawImage(image, 0, 0);
  const { data } = context.getImageData(0, 0, image.width, image.height);
  const seen = new Set();
  for (let i = 0; i < data.length; i += 4 * 97) seen.add((data[i] << 16) | (data[i + 1] << 8) | data[i + 2]);
  return seen.size;
}`;

/**
 * The storefront page in a real browser (Debian's Chromium), against the
 * running stack: a visitor places an order, and ONE trace in Jaeger holds
 * the click, the fetch, and every service behind them.
 */
describe('the storefront page, in a real browser', function () {
  this.timeout(120_000);
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];
  let placed: PlacedOrder;

  before(async () => {
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 900, height: 1100 } });
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console: ${message.text()}`);
    });
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('requestfailed', (request) => problems.push(`failed: ${request.url()} ${request.failure()?.errorText}`));
    page.on('response', (response) => {
      if (response.status() >= 400) problems.push(`${response.status()}: ${response.url()}`);
    });
    placed = await placeOrderThroughThePage(page, endpoints.gateway, String(Date.now()));
  });
  after(() => browser?.close());

  it('places the order, shows it with its trace id and a link to that trace in Jaeger', async () => {
    assert.ok(placed.orderId > 0);
    assert.match(placed.traceId, /^[0-9a-f]{32}$/);
    const link = await page.locator('#status a').getAttribute('href');
    assert.equal(link, `${new URL(endpoints.jaeger).origin}/trace/${placed.traceId}`);
  });

  it('makes one trace from the click to the consumer: the click span is its root, the fetch its child, the gateway below', async () => {
    const began = Date.now();
    const trace = await eventually(
      async () => {
        const found = await jaegerTrace(placed.traceId);
        return complete(found) ? found : undefined;
      },
      `trace ${placed.traceId} complete in Jaeger, from the browser to notifications`,
      30_000,
    );
    const clickToComplete = Date.now() - placed.clickedAt;

    const byId = new Map(trace.spans.map((span) => [span.spanID, span]));
    const roots = trace.spans.filter((span) => !parentIdOf(span));
    assert.equal(roots.length, 1, 'one root');
    const [root] = roots as [JaegerSpan];
    assert.equal(serviceOf(trace, root), 'web');
    assert.equal(root.operationName, 'click Place order');
    for (const span of trace.spans) {
      const parent = parentIdOf(span);
      assert.ok(!parent || byId.has(parent), `no orphan: ${serviceOf(trace, span)} ${span.operationName}`);
    }
    const fetchSpan = trace.spans.find((span) => serviceOf(trace, span) === 'web' && parentIdOf(span) === root.spanID);
    assert.ok(fetchSpan, 'the fetch span is a child of the click span');
    const gatewayServer = trace.spans.find(
      (span) => serviceOf(trace, span) === 'gateway' && tag(span, 'span.kind') === 'server',
    );
    assert.ok(gatewayServer, 'the gateway server span is in the trace');
    assert.equal(parentIdOf(gatewayServer), fetchSpan.spanID, 'the gateway continued the fetch’s trace');

    const depth = (span: JaegerSpan): number => {
      const parent = parentIdOf(span);
      return parent && byId.has(parent) ? 1 + depth(byId.get(parent)!) : 1;
    };
    const services = [...new Set(trace.spans.map((span) => serviceOf(trace, span)))].sort();
    console.log(
      `      trace ${placed.traceId}: ${trace.spans.length} spans, services ${services.join(', ')}, ` +
        `depth ${Math.max(...trace.spans.map(depth))}; click to complete in Jaeger: ${clickToComplete} ms ` +
        `(${Date.now() - began} ms of it waiting here)`,
    );
  });

  it('shows a page that is not blank, readable on a phone', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    const picture = await page.screenshot({
      fullPage: true,
      path: join(mkdtempSync(join(tmpdir(), 'glassbox-')), 'page.png'),
    });
    // Count the distinct colours of the picture, decoded by the browser itself: a blank page has one or two.
    const colours = Number(await page.evaluate(`(${COUNT_COLOURS})(${JSON.stringify(picture.toString('base64'))})`));
    assert.ok(colours > 8, `the screenshot has ${colours} colours`);
    const overflow = Number(await page.evaluate('document.documentElement.scrollWidth - window.innerWidth'));
    assert.ok(overflow <= 0, `no sideways scrolling on a phone (overflow ${overflow} px)`);
  });

  it('had no console error and no failed request', () => {
    assert.deepEqual(problems, []);
  });
});
