/**
 * The storefront page: pick or create a customer, pick quantities, place an
 * order, and follow its trace. Every text from the API goes in with
 * textContent, never innerHTML: product and customer names are whatever
 * somebody typed.
 */
import { SpanStatusCode, trace } from '@opentelemetry/api';
import { startTelemetry } from './telemetry';

startTelemetry();
const tracer = trace.getTracer('glassbox-web');

interface User {
  id: number;
  name: string;
  email: string;
}
interface Product {
  id: number;
  name: string;
  priceCents: number;
  stock: number;
}
interface Order {
  id: number;
  totalCents: number;
  items: unknown[];
}
interface ApiError {
  error?: { message?: string };
}

const element = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const userSelect = element<HTMLSelectElement>('user');
const productRows = element<HTMLTableElement>('products').tBodies[0] as HTMLTableSectionElement;
const placeButton = element<HTMLButtonElement>('place-order');
const status = element<HTMLDivElement>('status');
const jaegerUrl =
  document.querySelector<HTMLMetaElement>('meta[name="glassbox-jaeger-url"]')?.content ?? 'http://127.0.0.1:16686';
const money = new Intl.NumberFormat(undefined, { style: 'currency', currency: 'EUR' });

/** The gateway's answer as JSON, or an Error carrying its message. */
async function api<T>(path: string, init: RequestInit = {}): Promise<{ body: T; response: Response }> {
  const response = await fetch(path, {
    ...init,
    headers: {
      accept: 'application/json',
      ...(init.body ? { 'content-type': 'application/json' } : {}),
      ...init.headers,
    },
  });
  const text = await response.text();
  const body = (text ? JSON.parse(text) : undefined) as T & ApiError;
  if (!response.ok) throw new Error(body?.error?.message ?? `${response.status} ${response.statusText}`);
  return { body, response };
}

function say(kind: 'ok' | 'failed' | 'busy', ...parts: Array<string | Node>): void {
  status.className = kind;
  status.replaceChildren(...parts);
}

async function loadUsers(selectId?: number): Promise<void> {
  const { body } = await api<{ items: User[] }>('/api/users?limit=100');
  const options = body.items.map((user) => new Option(`${user.name} (#${user.id})`, String(user.id)));
  userSelect.replaceChildren(
    new Option(body.items.length ? 'Choose a customer' : 'No customers yet: create one', ''),
    ...options,
  );
  if (selectId !== undefined) userSelect.value = String(selectId);
}

async function loadProducts(): Promise<void> {
  const { body } = await api<{ items: Product[] }>('/api/products?limit=100');
  if (body.items.length === 0) {
    const cell = document.createElement('td');
    cell.colSpan = 4;
    cell.textContent = 'No products yet: add one below.';
    productRows.replaceChildren(row(cell));
    return;
  }
  productRows.replaceChildren(
    ...body.items.map((product) => {
      const quantity = document.createElement('input');
      Object.assign(quantity, { type: 'number', min: '0', max: String(product.stock), step: '1', value: '0' });
      quantity.dataset.productId = String(product.id);
      quantity.setAttribute('aria-label', `Quantity of ${product.name}`);
      return row(
        cellOf(product.name),
        cellOf(money.format(product.priceCents / 100)),
        cellOf(String(product.stock)),
        cellOf(quantity),
      );
    }),
  );
}

const cellOf = (content: string | Node) => {
  const cell = document.createElement('td');
  cell.append(content);
  return cell;
};
const row = (...cells: HTMLElement[]) => {
  const tr = document.createElement('tr');
  tr.append(...cells);
  return tr;
};

function chosenItems(): Array<{ productId: number; quantity: number }> {
  return [...productRows.querySelectorAll<HTMLInputElement>('input[data-product-id]')]
    .map((input) => ({ productId: Number(input.dataset.productId), quantity: Number(input.value) }))
    .filter((item) => Number.isInteger(item.quantity) && item.quantity > 0);
}

/** The trace the gateway recorded the request under (W3C traceresponse: 00-<trace id>-<span id>-<flags>). */
function traceIdOf(response: Response | undefined, fallback: string): string {
  const header = response?.headers.get('traceresponse') ?? '';
  return /^[\da-f]{2}-([\da-f]{32})-[\da-f]{16}-[\da-f]{2}$/.exec(header)?.[1] ?? fallback;
}

function traceLink(traceId: string): HTMLElement {
  const link = document.createElement('a');
  link.href = `${jaegerUrl}/trace/${traceId}`;
  link.target = '_blank';
  link.rel = 'noopener';
  const code = document.createElement('code');
  code.textContent = traceId;
  link.append('open trace ', code, ' in Jaeger');
  return link;
}

/**
 * "Place order": the click's own span is the root of the whole trace. The
 * fetch starts inside it (synchronously, while it is the active span), so
 * the fetch span is its child and its traceparent carries the click's trace
 * to the gateway and on through every service.
 */
placeButton.addEventListener('click', function placeOrder() {
  const userId = Number(userSelect.value);
  const items = chosenItems();
  if (!userId || items.length === 0) {
    say('failed', !userId ? 'Choose a customer first.' : 'Choose a quantity of at least one product.');
    return;
  }
  tracer.startActiveSpan(
    'click Place order',
    { attributes: { 'glassbox.order.item_count': items.length, 'glassbox.user.id': userId } },
    (span) => {
      placeButton.disabled = true;
      say('busy', 'Placing the order…');
      // A fresh key per click: a retry of this request (not a second click) would get the same order back.
      const placing = api<Order>('/api/orders', {
        method: 'POST',
        headers: { 'idempotency-key': crypto.randomUUID() },
        body: JSON.stringify({ userId, items }),
      });
      placing
        .then(async ({ body: order, response }) => {
          const traceId = traceIdOf(response, span.spanContext().traceId);
          span.setAttribute('glassbox.order.id', order.id);
          status.dataset.traceId = traceId;
          status.dataset.orderId = String(order.id);
          say('ok', `Order #${order.id} placed: ${money.format(order.totalCents / 100)}. `, traceLink(traceId));
          await loadProducts();
        })
        .catch((error: Error) => {
          span.recordException(error);
          span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
          say('failed', `The order was not placed: ${error.message}. `, traceLink(span.spanContext().traceId));
        })
        .finally(() => {
          span.end();
          placeButton.disabled = false;
        });
    },
  );
});

element<HTMLFormElement>('new-user').addEventListener('submit', (event) => {
  event.preventDefault();
  const form = new FormData(event.target as HTMLFormElement);
  api<User>('/api/users', {
    method: 'POST',
    body: JSON.stringify({ name: form.get('name'), email: form.get('email') }),
  })
    .then(async ({ body: user }) => {
      await loadUsers(user.id);
      (event.target as HTMLFormElement).reset();
      say('ok', `Customer ${user.name} created and chosen.`);
    })
    .catch((error: Error) => say('failed', `The customer was not created: ${error.message}`));
});

element<HTMLFormElement>('new-product').addEventListener('submit', (event) => {
  event.preventDefault();
  const form = new FormData(event.target as HTMLFormElement);
  const product = {
    name: form.get('name'),
    priceCents: Number(form.get('priceCents')),
    stock: Number(form.get('stock')),
  };
  api<Product>('/api/products', { method: 'POST', body: JSON.stringify(product) })
    .then(async ({ body: created }) => {
      await loadProducts();
      (event.target as HTMLFormElement).reset();
      say('ok', `Product ${created.name} added.`);
    })
    .catch((error: Error) => say('failed', `The product was not added: ${error.message}`));
});

Promise.all([loadUsers(), loadProducts()]).catch((error: Error) =>
  say('failed', `The shop could not be loaded: ${error.message}`),
);
