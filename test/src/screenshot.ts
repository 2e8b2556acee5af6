/**
 * npm run screenshot: places an order through the storefront page of a
 * running stack, in Debian's Chromium, and writes the page as it is then to
 * docs/storefront.png (the picture in docs/storefront.md).
 *
 *   GATEWAY_URL   the stack's gateway (default: deploy/ports.env's, on 127.0.0.1)
 */
import { join } from 'node:path';
import { launchChromium, placeOrderThroughThePage } from './browser';
import { endpoints } from './endpoints';

const OUT = join(__dirname, '..', '..', '..', 'docs', 'storefront.png');

async function main(): Promise<void> {
  if (process.argv.includes('--help')) {
    console.log('usage: npm run screenshot   (a stack must be running; writes docs/storefront.png)');
    return;
  }
  const browser = await launchChromium();
  try {
    const page = await browser.newPage({ viewport: { width: 900, height: 1000 } });
    const placed = await placeOrderThroughThePage(page, endpoints.gateway, String(Date.now()));
    await page.screenshot({ path: OUT, fullPage: true });
    console.log(`screenshot: order ${placed.orderId}, trace ${placed.traceId}, written to ${OUT}`);
  } finally {
    await browser.close();
  }
}

main().catch((error: unknown) => {
  console.error(`screenshot: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
