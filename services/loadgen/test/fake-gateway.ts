/**
 * A stand-in for the gateway, on 127.0.0.1 and a free port: answers the
 * public API the way the real one does for the requests the load generator
 * sends (lists, ids that exist or not, orders with good or bad bodies), and
 * records when each request arrived. Test support only.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';

export interface Arrival {
  method: string;
  url: string;
  body: string;
  /** performance.now() when the request was read: the same clock the generator uses, in the same process. */
  at: number;
}

export interface FakeGatewayOptions {
  users?: number;
  products?: number;
  /** Stock of every starting product. */
  stock?: number;
  /** The first this many requests are answered 503, as a gateway whose services are still starting. */
  unavailableFor?: number;
  /** Called per request before it is answered; may delay the answer or stall the process. */
  beforeAnswer?: (arrival: Arrival, index: number) => Promise<void> | void;
}

export interface FakeGateway {
  url: string;
  arrivals: Arrival[];
  close(): Promise<void>;
}

export async function startFakeGateway(options: FakeGatewayOptions = {}): Promise<FakeGateway> {
  const users = Array.from({ length: options.users ?? 5 }, (_, i) => ({ id: i + 1, name: `u${i + 1}` }));
  const products = Array.from({ length: options.products ?? 8 }, (_, i) => ({
    id: i + 1,
    name: `p${i + 1}`,
    priceCents: 100,
    stock: options.stock ?? 1_000_000_000,
  }));
  const arrivals: Arrival[] = [];

  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      const arrival = { method: request.method ?? '', url: request.url ?? '', body, at: performance.now() };
      const index = arrivals.push(arrival) - 1;
      void (async () => {
        await options.beforeAnswer?.(arrival, index);
        const unavailable = index < (options.unavailableFor ?? 0);
        const [status, reply] = unavailable ? [503, { error: { code: 'dependency_unavailable' } }] : answer(arrival);
        if (response.destroyed) return;
        response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(reply));
      })();
    });
  });

  function answer({ method, url, body }: Arrival): [number, unknown] {
    const path = url.split('?')[0]!;
    const collection = /^\/api\/(users|products|orders)$/.exec(path)?.[1];
    const member = /^\/api\/(users|products|orders)\/(\d+)$/.exec(path);
    const rows: Array<{ id: number }> = collection === 'users' ? users : collection === 'products' ? products : [];
    if (method === 'GET' && collection) return [200, { items: rows, page: { total: rows.length } }];
    if (method === 'GET' && member) {
      const found = (member[1] === 'users' ? users : member[1] === 'products' ? products : []).find(
        (row) => row.id === Number(member[2]),
      );
      return found ? [200, found] : [404, { error: { code: 'not_found' } }];
    }
    if (method === 'POST' && collection) {
      let input: Record<string, unknown>;
      try {
        input = JSON.parse(body) as Record<string, unknown>;
      } catch {
        return [400, { error: { code: 'malformed_json' } }];
      }
      if (collection === 'orders') {
        const items = input.items as Array<{ quantity: number }>;
        if (items.some((item) => item.quantity < 1)) return [400, { error: { code: 'validation_failed' } }];
        return [201, { id: 1, ...input }];
      }
      const created = { id: rows.length + 1, ...input } as {
        id: number;
        name: string;
        stock: number;
        priceCents: number;
      };
      (collection === 'users' ? users : products).push(created);
      return [201, created];
    }
    return [404, { error: { code: 'not_found' } }];
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    arrivals,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A port on 127.0.0.1 where nothing listens (it was free a moment ago): connecting is refused. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
