import { arrivalTimes, type Profile } from './arrivals';
import { Random } from './prng';

/** The users and products the journeys may name: ids that exist behind the gateway. */
export interface Catalog {
  userIds: number[];
  productIds: number[];
}

export type JourneyName = 'browse products' | 'view user' | 'place order' | 'list orders' | 'invalid input';

/** One request of a journey, before it is given a time. */
export interface RequestSpec {
  journey: JourneyName;
  method: 'GET' | 'POST';
  /** Path and query under the gateway's base URL, e.g. /api/orders?userId=3. */
  path: string;
  /** The body as sent: text, so that a malformed one can be planned too. */
  body?: string;
  /** What a healthy platform answers. Anything else is counted as an error. */
  expectedStatus: number;
}

export interface PlannedRequest extends RequestSpec {
  /** Position in the run, from 0. */
  index: number;
  /** When it is due, in ms from the start of the run. */
  at: number;
}

export interface PlanOptions {
  seed: number;
  rps: number;
  /** 0: no end. */
  durationMs: number;
  profile: Profile;
  catalog: Catalog;
}

/**
 * The whole run, decided before it starts: every request's time, method,
 * path and body. A pure function of its options, so the same seed against
 * the same data sends the same requests, and two runs can be compared line by
 * line. The times come from the profile and the rate; the requests come only
 * from the seed and the catalog, so changing --rps changes when, not what.
 * Lazy, because a run without an end has no end of requests either.
 */
export function* planRequests(options: PlanOptions): Generator<PlannedRequest> {
  const requests = journeyStream(new Random(options.seed), options.catalog);
  let index = 0;
  for (const at of arrivalTimes(options.profile, options.rps, options.durationMs)) {
    yield { ...requests.next().value, index: index++, at };
  }
}

/**
 * The mix, by journey (browsing is two requests, so invalid input ends up
 * about 5% of REQUESTS: 13 / (2*60 + 40 + 49 + 38 + 13) = 5.0%). Weights, not
 * percentages, so a journey can be added without redoing the arithmetic.
 */
const MIX: ReadonlyArray<readonly [number, (random: Random, catalog: Catalog) => RequestSpec[]]> = [
  [60, browseProducts],
  [40, viewUser],
  [49, placeOrder],
  [38, listOrders],
  [13, sendInvalidInput],
];

/** Ids above every id the seeding creates, below PostgreSQL's integer limit: valid, and unknown. */
const UNKNOWN_ID_BASE = 2_000_000_000;

function* journeyStream(random: Random, catalog: Catalog): Generator<RequestSpec, never> {
  if (catalog.userIds.length === 0 || catalog.productIds.length === 0) {
    throw new Error('the catalog needs at least one user and one product');
  }
  for (;;) yield* random.weighted(MIX)(random, catalog);
}

function browseProducts(random: Random, catalog: Catalog): RequestSpec[] {
  const journey = 'browse products';
  return [
    { journey, method: 'GET', path: '/api/products?limit=20', expectedStatus: 200 },
    { journey, method: 'GET', path: `/api/products/${random.pick(catalog.productIds)}`, expectedStatus: 200 },
  ];
}

function viewUser(random: Random, catalog: Catalog): RequestSpec[] {
  return [
    { journey: 'view user', method: 'GET', path: `/api/users/${random.pick(catalog.userIds)}`, expectedStatus: 200 },
  ];
}

/** One or two different products, 1 to 3 of each: the order that makes the centrepiece trace. */
function placeOrder(random: Random, catalog: Catalog): RequestSpec[] {
  const lines = Math.min(random.between(1, 2), catalog.productIds.length);
  const products = new Set<number>();
  while (products.size < lines) products.add(random.pick(catalog.productIds));
  const order = {
    userId: random.pick(catalog.userIds),
    items: [...products].map((productId) => ({ productId, quantity: random.between(1, 3) })),
  };
  return [
    { journey: 'place order', method: 'POST', path: '/api/orders', body: JSON.stringify(order), expectedStatus: 201 },
  ];
}

function listOrders(random: Random, catalog: Catalog): RequestSpec[] {
  const path = `/api/orders?userId=${random.pick(catalog.userIds)}`;
  return [{ journey: 'list orders', method: 'GET', path, expectedStatus: 200 }];
}

/** What careless clients send. A healthy platform answers each with a 4xx, never a 5xx. */
function sendInvalidInput(random: Random, catalog: Catalog): RequestSpec[] {
  const journey = 'invalid input';
  const userId = random.pick(catalog.userIds);
  const productId = random.pick(catalog.productIds);
  const unknownId = UNKNOWN_ID_BASE + random.between(0, 99_999_999);
  const choices: RequestSpec[] = [
    {
      journey,
      method: 'POST',
      path: '/api/orders',
      // Cut off mid-document, as a client that dies while writing would leave it.
      body: `{"userId":${userId},"items":[{"productId":${productId},"quantity":1}`,
      expectedStatus: 400,
    },
    {
      journey,
      method: 'POST',
      path: '/api/orders',
      body: JSON.stringify({ userId, items: [{ productId, quantity: 0 }] }),
      expectedStatus: 400,
    },
    { journey, method: 'GET', path: `/api/users/${unknownId}`, expectedStatus: 404 },
    { journey, method: 'GET', path: `/api/products/${unknownId}`, expectedStatus: 404 },
    { journey, method: 'GET', path: `/api/orders/${unknownId}`, expectedStatus: 404 },
  ];
  return [random.pick(choices)];
}
