/**
 * A real browser for the storefront page: Debian's Chromium, driven by
 * playwright-core (which downloads no browser of its own). Shared by the
 * browser test and by the script that regenerates the README's screenshot.
 */
import { chromium, type Browser, type Page } from 'playwright-core';

/** CHROMIUM_PATH overrides it; the project's scripts install Debian's package there. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // As root (CI) Chromium needs --no-sandbox. The others keep it from calling
    // home (updates, sync, QUIC probes), which a closed network refuses loudly.
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

export interface PlacedOrder {
  orderId: number;
  traceId: string;
  /** Date.now() when "Place order" was clicked. */
  clickedAt: number;
}

/**
 * What a visitor does: open the page, create a customer, add a product,
 * choose one of it, click "Place order", and wait for the page to say the
 * order is placed, with its trace id.
 */
export async function placeOrderThroughThePage(page: Page, gatewayUrl: string, stamp: string): Promise<PlacedOrder> {
  await page.goto(`${gatewayUrl}/`, { waitUntil: 'load' });
  await page.getByRole('group', { name: 'Add a product' }).waitFor();

  await page.locator('summary', { hasText: 'New customer' }).click();
  await page.locator('#new-user-name').fill(`Browser ${stamp}`);
  await page.locator('#new-user-email').fill(`browser-${stamp}@example.org`);
  await page.getByRole('button', { name: 'Create customer' }).click();
  await page.locator('#status.ok').waitFor();

  const productName = `Lamp ${stamp}`;
  await page.locator('#new-product-name').fill(productName);
  await page.locator('#new-product-price').fill('1250');
  await page.locator('#new-product-stock').fill('5');
  await page.getByRole('button', { name: 'Add product' }).click();
  await page.getByLabel(`Quantity of ${productName}`).fill('2');

  const clickedAt = Date.now();
  await page.getByRole('button', { name: 'Place order' }).click();
  const placed = page.locator('#status.ok[data-trace-id]');
  await placed.waitFor({ timeout: 15_000 });
  return {
    orderId: Number(await placed.getAttribute('data-order-id')),
    traceId: (await placed.getAttribute('data-trace-id')) ?? '',
    clickedAt,
  };
}
