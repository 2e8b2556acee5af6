/**
 * Hostile input at the public API: one case a line, what is sent byte for
 * byte and what the gateway must answer. The integration tier runs the table
 * against the whole system in one process (and checks every table of the
 * database and the gateway's metrics around each case); the end-to-end tier
 * runs it against the running stack's gateway. Each request goes out on a raw
 * TCP socket: fetch would normalize `\` and `%2e%2e` before sending, refuse
 * two Content-Length headers, and could not hang up halfway through a body.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';

/** The answer a case expects: a status (with what its JSON error must name), or none because the client hangs up. */
export type Expected = { status: number; names?: RegExp } | { hangUp: true };

export interface HostileCase {
  group: string;
  what: string;
  bytes: Buffer;
  expected: Expected;
}

type Row = [what: string, bytes: Buffer, status: number | 'hang up', names?: RegExp];

const CRLF = '\r\n';

/**
 * A request as written on the wire. `Host` and `Connection: close` are added,
 * and a Content-Length for the body unless `headers` frame it themselves.
 */
function request(method: string, target: string, headers: string[] = [], body: string | Buffer = ''): Buffer {
  const framed = headers.some((line) => /^(content-length|transfer-encoding):/i.test(line));
  const length = Buffer.byteLength(body);
  const lines = [
    `${method} ${target} HTTP/1.1`,
    'Host: glassbox.test',
    'Connection: close',
    ...headers,
    ...(framed || length === 0 ? [] : [`Content-Length: ${length}`]),
  ];
  return Buffer.concat([Buffer.from(lines.join(CRLF) + CRLF + CRLF, 'latin1'), Buffer.from(body)]);
}

const get = (target: string, headers: string[] = []) => request('GET', target, headers);
/** A JSON request: `body` is serialized unless it is already a string (or bytes), which go as they are. */
export const send = (method: string, target: string, body: unknown, headers: string[] = []) =>
  request(
    method,
    target,
    [...(headers.some((line) => /^content-type:/i.test(line)) ? [] : ['Content-Type: application/json']), ...headers],
    typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body),
  );
const wire = (text: string) => Buffer.from(text, 'latin1');
/** A chunked body, in chunks of `size` bytes. */
const chunked = (body: string, size: number) => {
  const parts: string[] = [];
  for (let at = 0; at < body.length; at += size) {
    const chunk = body.slice(at, at + size);
    parts.push(`${Buffer.byteLength(chunk).toString(16)}${CRLF}${chunk}${CRLF}`);
  }
  return `${parts.join('')}0${CRLF}${CRLF}`;
};
const nested = (depth: number, open: string, close: string, inner = '1') =>
  open.repeat(depth) + inner + close.repeat(depth);

const user = (fields: Record<string, unknown>) => ({ name: 'Mallory', email: 'mallory@example.org', ...fields });
const product = (fields: Record<string, unknown>) => ({ name: 'Lamp', priceCents: 100, stock: 1, ...fields });
const order = (fields: Record<string, unknown>) => ({ userId: 1, items: [{ productId: 1, quantity: 1 }], ...fields });
const item = (fields: Record<string, unknown>) => order({ items: [{ productId: 1, quantity: 1, ...fields }] });

// What the errors must name.
const ID = /params\.id/;
const NO_ROUTE = /no route for/;
const PARSER = /could not be parsed/;
const TOO_LARGE = /headers are too large/;
const DEPTH = /nests deeper than/;
const JSON_TYPE = /expected Content-Type application\/json/;

// Every endpoint a service keeps to itself; each traversal aims at one of them.
// prettier-ignore
const TRAVERSAL: Row[] = [
  ['%2e%2e and a backslash, to users /metrics',           get('/api/users/%2e%2e\\metrics'),                       400, ID],
  ['%2e%2e and a backslash, to orders /readyz',           get('/api/orders/%2e%2e\\readyz'),                       400, ID],
  ['.%2e and a backslash, to products /healthz',          get('/api/products/.%2e\\healthz'),                      400, ID],
  ['.. and backslashes, to users /admin/faults',          get('/api/users/..\\admin\\faults'),                     400, ID],
  ['%2e%2e%5c (encoded backslash)',                       get('/api/users/%2e%2e%5cmetrics'),                      400, ID],
  ['%2e%2e%2f (encoded slash)',                           get('/api/users/%2e%2e%2fmetrics'),                      400, ID],
  ['%2E%2E%2F in upper case',                             get('/api/products/%2E%2E%2Freadyz'),                    400, ID],
  ['..%2f, dots as they are',                             get('/api/orders/..%2fmetrics'),                         400, ID],
  ['..%5c, dots as they are',                             get('/api/users/..%5creadyz'),                           400, ID],
  ['double encoding %252e%252e%252f',                     get('/api/users/%252e%252e%252fmetrics'),                400, ID],
  ['double-encoded backslash ..%255c',                    get('/api/products/..%255cmetrics'),                     400, ID],
  ['triple encoding %25252e',                             get('/api/orders/%25252e%25252e%25255cmetrics'),         400, ID],
  ['nested encoding %%32%65',                             get('/api/users/%%32%65%%32%65%%35%63metrics'),          400, ID],
  ['overlong UTF-8 dots and slash (2 bytes)',             get('/api/users/%c0%ae%c0%ae%c0%afmetrics'),             400, ID],
  ['overlong UTF-8 dots and slash (3 bytes)',             get('/api/users/%e0%80%ae%e0%80%ae%e0%80%afmetrics'),    400, ID],
  ['overlong UTF-8 with a backslash %c1%9c',              get('/api/orders/%c0%ae%c0%ae%c1%9creadyz'),             400, ID],
  ['IIS %u encoding',                                     get('/api/users/%u002e%u002e%u2215metrics'),             400, ID],
  ['fullwidth solidus U+FF0F',                            get('/api/users/%2e%2e%ef%bc%8fmetrics'),                400, ID],
  ['division slash U+2215',                               get('/api/products/%2e%2e%e2%88%95metrics'),             400, ID],
  ['NUL before the backslash',                            get('/api/users/%2e%2e%00%5cmetrics'),                   400, ID],
  [';jsessionid parameter with traversal',                get('/api/users/1;jsessionid=..%2f..%2fmetrics'),        400, ID],
  ['..;/ (Tomcat path parameter)',                        get('/api/users/..;/metrics'),                           404, NO_ROUTE],
  ['mixed case route and target',                         get('/API/Users/%2E%2E%5CMETRICS'),                      400, ID],
  ['two levels up to /admin/faults, encoded',             get('/api/products/%2e%2e%2f%2e%2e%2fadmin%2ffaults'),   400, ID],
  ['two levels up with backslashes, encoded',             get('/api/orders/%2e%2e%5c%2e%2e%5cadmin%5cfaults'),     400, ID],
  ['id, then encoded dot segments',                       get('/api/users/1%2f..%2f..%2fmetrics'),                 400, ID],
  ['a bare .. as the id',                                 get('/api/users/..'),                                    400, ID],
  ['literal dot segments',                                get('/api/users/../metrics'),                            404, NO_ROUTE],
  ['literal dot segments from /api',                      get('/api/../metrics'),                                  404, NO_ROUTE],
  ['encoded dot segment in place of a service',           get('/api/%2e%2e/readyz'),                               404, NO_ROUTE],
  ['.%2e segments after an id',                           get('/api/users/1/.%2e/.%2e/metrics'),                   404, NO_ROUTE],
  ['a URL to another host as the id',                     get('/api/users/http:%2f%2fusers:8081%2fmetrics'),       400, ID],
  ['a network-path reference as the id',                  get('/api/users/%2f%2f127.0.0.1%2fmetrics'),             400, ID],
  ['absolute-form target to a service',                   get('http://users:8081/metrics'),                        404, NO_ROUTE],
  ['absolute-form target with traversal',                 get('http://glassbox.test/api/users/%2e%2e%5cmetrics'),  400, ID],
  ['traversal on DELETE, to /admin/faults',               request('DELETE', '/api/users/%2e%2e%5cadmin%5cfaults'), 400, ID],
  ['traversal on PUT, switching a fault on',              send('PUT', '/api/users/..%2fadmin%2ffaults%2fslow-sql', { enabled: true }), 400, ID],
];

// prettier-ignore
const DEEP_JSON: Row[] = [
  ['arrays 5,000 deep as a user',                         send('POST', '/api/users', nested(5_000, '[', ']')),                         400, DEPTH],
  ['arrays 30,000 deep, just under the size cap',         send('POST', '/api/users', nested(30_000, '[', ']')),                        400, DEPTH],
  ['objects 3,000 deep as a product',                     send('POST', '/api/products', nested(3_000, '{"a":', '}')),                  400, DEPTH],
  ['arrays 2,000 deep inside an order',                   send('POST', '/api/orders', `{"userId":1,"items":${nested(2_000, '[', ']')}}`), 400, DEPTH],
  ['a name 4,000 deep on PUT',                            send('PUT', '/api/users/1', `{"name":${nested(4_000, '[', ']', '"a"')}}`),   400, DEPTH],
  ['brackets inside a string are not nesting',            send('POST', '/api/users', user({ name: '['.repeat(4_000) })),               400, /body\.name/],
];

// prettier-ignore
const CONTROL_CHARACTERS: Row[] = [
  ['NUL in a user name',                                  send('POST', '/api/users', user({ name: 'Mal\u0000lory' })),                 400, /body\.name/],
  ['NUL in a product name',                               send('POST', '/api/products', product({ name: 'La\u0000mp' })),              400, /body\.name/],
  ['NUL in a replaced user name',                         send('PUT', '/api/users/1', user({ name: '\u0000' })),                       400, /body\.name/],
  ['NUL in an email',                                     send('POST', '/api/users', user({ email: 'm\u0000@example.org' })),          400, /body\.email/],
  ['BEL in a user name',                                  send('POST', '/api/users', user({ name: 'ding\u0007' })),                    400, /body\.name/],
  ['a newline that would forge a log line',               send('POST', '/api/users', user({ name: 'a\n{"level":60}' })),               400, /body\.name/],
  ['an ANSI escape sequence',                             send('POST', '/api/products', product({ name: '\u001b[31mred' })),          400, /body\.name/],
  ['DEL in a product name',                               send('POST', '/api/products', product({ name: 'Lamp\u007f' })),             400, /body\.name/],
  ['C1 control NEL',                                      send('POST', '/api/users', user({ name: 'a\u0085b' })),                      400, /body\.name/],
  ['an unescaped control byte inside a JSON string',      send('POST', '/api/users', '{"name":"a\u0001b","email":"m@example.org"}'),  400, /not valid JSON/],
  ['NUL in a path id',                                    get('/api/users/1%00'),                                                      400, ID],
  ['NUL in a query value',                                get('/api/users?limit=1%00'),                                                400, /query\.limit/],
  ['NUL in a header value',                               get('/api/products', ['X-Note: a\u0000b']),                                  400, PARSER],
  ['a control byte in a header value',                    get('/api/products', ['X-Note: a\u0001b']),                                  400, PARSER],
];

// prettier-ignore
const UNICODE: Row[] = [
  ['a right-to-left override in a user name',             send('POST', '/api/users', user({ name: '\u202eevil.exe' })),                400, /body\.name/],
  ['a bidi isolate in a product name',                    send('POST', '/api/products', product({ name: 'La\u2066mp' })),             400, /body\.name/],
  ['a left-to-right override on PUT',                     send('PUT', '/api/users/1', user({ name: '\u202dname' })),                   400, /body\.name/],
  ['a lone high surrogate',                               send('POST', '/api/users', user({ name: 'a\ud800' })),                       400, /body\.name/],
  ['a lone low surrogate in a product name',              send('POST', '/api/products', product({ name: '\udc00x' })),                 400, /body\.name/],
  ['a lone surrogate in an email',                        send('POST', '/api/users', user({ email: '\ud800@example.org' })),           400, /body\.email/],
  ['bytes that are not UTF-8',                            send('POST', '/api/users', Buffer.from('{"name":"\xff\xfe","email":"m@example.org"}', 'latin1')), 400, /not valid UTF-8/],
  ['overlong UTF-8 in a body',                            send('POST', '/api/products', Buffer.from('{"name":"\xc0\xae","priceCents":1,"stock":1}', 'latin1')), 400, /not valid UTF-8/],
  ['fullwidth digit as an id',                            get('/api/products/%ef%bc%91'),                                              400, ID],
  ['Arabic-Indic digit as an id',                         get('/api/orders/%d9%a3'),                                                   400, ID],
];

// prettier-ignore
const OVERLONG: Row[] = [
  ['a user name of 201 characters',                       send('POST', '/api/users', user({ name: 'n'.repeat(201) })),                 400, /body\.name/],
  ['a user name of 20,000 characters',                    send('POST', '/api/users', user({ name: 'n'.repeat(20_000) })),              400, /body\.name/],
  ['an email of 300 characters',                          send('POST', '/api/users', user({ email: `${'m'.repeat(288)}@example.org` })), 400, /body\.email/],
  ['a product name of 201 characters',                    send('POST', '/api/products', product({ name: 'p'.repeat(201) })),           400, /body\.name/],
  ['an id of 5,000 digits',                               get(`/api/users/${'9'.repeat(5_000)}`),                                      400, ID],
  ['a query value of 8,000 digits',                       get(`/api/products?limit=${'1'.repeat(8_000)}`),                             400, /query\.limit/],
  ['a request target of 20,000 bytes',                    get(`/api/users/${'1'.repeat(20_000)}`),                                     431, TOO_LARGE],
  ['an Idempotency-Key of 300 characters',                send('POST', '/api/orders', order({ items: [] }), [`Idempotency-Key: ${'k'.repeat(300)}`]), 400, /idempotency-key/],
];

// prettier-ignore
const NUMBERS: Row[] = [
  ['a price one above the 32-bit maximum',                send('POST', '/api/products', product({ priceCents: 2_147_483_648 })),       400, /body\.priceCents/],
  ['a price of 1e309 (Infinity once parsed)',             send('POST', '/api/products', '{"name":"Lamp","priceCents":1e309,"stock":1}'), 400, /body\.priceCents/],
  ['a negative stock',                                    send('POST', '/api/products', product({ stock: -1 })),                       400, /body\.stock/],
  ['a stock of 1e20',                                     send('POST', '/api/products', product({ stock: 1e20 })),                     400, /body\.stock/],
  ['a quantity one above the maximum',                    send('POST', '/api/orders', item({ quantity: 1_001 })),                      400, /quantity/],
  ['a quantity of -0',                                    send('POST', '/api/orders', '{"userId":1,"items":[{"productId":1,"quantity":-0}]}'), 400, /quantity/],
  ['a quantity of 1.5',                                   send('POST', '/api/orders', item({ quantity: 1.5 })),                        400, /quantity/],
  ['a user id beyond PostgreSQL integer',                 send('POST', '/api/orders', order({ userId: 2_147_483_648 })),               400, /body\.userId/],
  ['a user id beyond 2^53',                               send('POST', '/api/orders', '{"userId":9007199254740993,"items":[{"productId":1,"quantity":1}]}'), 400, /body\.userId/],
  ['a product id of 0',                                   send('POST', '/api/orders', item({ productId: 0 })),                         400, /productId/],
  ['a path id one above the maximum',                     get('/api/users/2147483648'),                                                400, ID],
  ['a path id of 11 digits',                              get('/api/orders/99999999999'),                                              400, ID],
  ['a page size above the maximum',                       get('/api/users?limit=101'),                                                 400, /query\.limit/],
  ['a page size of 0',                                    get('/api/products?limit=0'),                                                400, /query\.limit/],
  ['an offset above the maximum',                         get('/api/products?offset=1000001'),                                         400, /query\.offset/],
  ['a negative offset',                                   get('/api/users?offset=-1'),                                                 400, /query\.offset/],
  ['a user id of 0 in a query',                           get('/api/orders?userId=0'),                                                 400, /query\.userId/],
  ['a user id above the maximum in a query',              get('/api/orders?userId=2147483648'),                                        400, /query\.userId/],
];

// prettier-ignore
const WRONG_TYPES: Row[] = [
  ['null as a user',                                      send('POST', '/api/users', 'null'),                                          400, /body/],
  ['a string as a user',                                  send('POST', '/api/users', '"Mallory"'),                                     400, /body/],
  ['a number as a product',                               send('POST', '/api/products', '42'),                                         400, /body/],
  ['true as an order',                                    send('POST', '/api/orders', 'true'),                                         400, /body/],
  ['an array as a replaced user',                         send('PUT', '/api/users/1', [user({})]),                                     400, /body/],
  ['a null name',                                         send('POST', '/api/users', user({ name: null })),                            400, /body\.name/],
  ['a name as an array',                                  send('POST', '/api/users', user({ name: ['Mallory'] })),                     400, /body\.name/],
  ['an email as an object',                               send('POST', '/api/users', user({ email: { $ne: '' } })),                    400, /body\.email/],
  ['a price as a string',                                 send('POST', '/api/products', product({ priceCents: '100' })),               400, /body\.priceCents/],
  ['a null stock',                                        send('POST', '/api/products', product({ stock: null })),                     400, /body\.stock/],
  ['items as a string',                                   send('POST', '/api/orders', order({ items: 'all of them' })),                400, /body\.items/],
  ['items as null',                                       send('POST', '/api/orders', order({ items: null })),                         400, /body\.items/],
  ['a user id as a string',                               send('POST', '/api/orders', order({ userId: '1' })),                         400, /body\.userId/],
  ['a user id as a boolean',                              send('POST', '/api/orders', order({ userId: true })),                        400, /body\.userId/],
  ['a quantity as an array',                              send('POST', '/api/orders', item({ quantity: [1] })),                        400, /quantity/],
  ['a product id as an object',                           send('POST', '/api/orders', item({ productId: { id: 1 } })),                 400, /productId/],
];

// prettier-ignore
const UNKNOWN_FIELDS: Row[] = [
  ['__proto__ on a user',                                 send('POST', '/api/users', '{"name":"Mallory","email":"m@example.org","__proto__":{"admin":true}}'), 400, /__proto__/],
  ['constructor on a product',                            send('POST', '/api/products', product({ constructor: { prototype: {} } })), 400, /constructor/],
  ['an id chosen by the caller',                          send('POST', '/api/users', user({ id: 1 })),                                 400, /body\.id/],
  ['a role on a user',                                    send('PUT', '/api/users/1', user({ role: 'admin' })),                        400, /body\.role/],
  ['a total on an order',                                 send('POST', '/api/orders', order({ totalCents: 0 })),                       400, /body\.totalCents/],
  ['a price on an order item',                            send('POST', '/api/orders', item({ priceCents: 0 })),                        400, /priceCents/],
  ['a query parameter no route takes',                    get('/api/users?fields=name'),                                               400, /query\.fields/],
  ['__proto__ in a query string',                         get('/api/users?__proto__[admin]=1'),                                        400, /__proto__/],
  ['a query parameter on a route that takes none',        get('/api/products/1?debug=1'),                                              400, /query\.debug/],
  ['a query parameter on POST',                           send('POST', '/api/users?admin=true', {}),                                   400, /query\.admin/],
];

// prettier-ignore
const DUPLICATES: Row[] = [
  ['the same product twice in an order',                  send('POST', '/api/orders', order({ items: [{ productId: 1, quantity: 1 }, { productId: 1, quantity: 2 }] })), 400, /appears twice/],
  ['the same product three times',                        send('POST', '/api/orders', order({ items: [1, 2, 3].map((quantity) => ({ productId: 1, quantity })) })), 400, /appears twice/],
  ['51 items, one above the maximum',                     send('POST', '/api/orders', order({ items: Array.from({ length: 51 }, (_, i) => ({ productId: i + 1, quantity: 1 })) })), 400, /body\.items/],
  ['a query parameter twice',                             get('/api/users?limit=5&limit=6'),                                           400, /query\.limit/],
  ['a user id twice in a query',                          get('/api/orders?userId=1&userId=2'),                                        400, /query\.userId/],
  ['Idempotency-Key twice',                               send('POST', '/api/orders', {}, ['Idempotency-Key: a', 'Idempotency-Key: b']), 400, /idempotency-key: must be sent once/],
];

// prettier-ignore
const CONTENT_TYPES: Row[] = [
  ['JSON sent as text/plain',                             send('POST', '/api/users', user({}), ['Content-Type: text/plain']),          415, JSON_TYPE],
  ['a form',                                              send('POST', '/api/users', 'name=a&email=b', ['Content-Type: application/x-www-form-urlencoded']), 415, JSON_TYPE],
  ['multipart',                                           send('POST', '/api/products', '--x\r\n\r\n{}\r\n--x--', ['Content-Type: multipart/form-data; boundary=x']), 415, JSON_TYPE],
  ['XML',                                                 send('POST', '/api/orders', '<order/>', ['Content-Type: application/xml']),  415, JSON_TYPE],
  ['no Content-Type at all',                              request('POST', '/api/users', [], JSON.stringify(user({}))),                 415, /got none/],
  ['a JSON lookalike type',                               send('PUT', '/api/users/1', user({}), ['Content-Type: application/json-patch+json']), 415, JSON_TYPE],
  ['JSON type, XML body',                                 send('POST', '/api/users', '<user name="a"/>'),                              400, /not valid JSON/],
  ['JSON type, gzip body',                                send('POST', '/api/users', Buffer.from([0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0]), ['Content-Encoding: gzip']), 400, /not valid UTF-8/],
];

// prettier-ignore
const BODIES_AND_FRAMING: Row[] = [
  ['a body of 70 KB',                                     send('POST', '/api/users', user({ name: 'n'.repeat(70_000) })),              413, /exceeds/],
  ['a declared Content-Length of 10 MB',                  send('POST', '/api/users', '{}', ['Content-Length: 10000000']),              413, /exceeds/],
  ['a chunked body of 70 KB',                             send('POST', '/api/products', chunked(JSON.stringify(product({ name: 'n'.repeat(70_000) })), 8_192), ['Transfer-Encoding: chunked']), 413, /exceeds/],
  ['a chunked body that is a bad user',                   send('POST', '/api/users', chunked('{"name":"Mallory"}', 4), ['Transfer-Encoding: chunked']), 400, /body\.email/],
  ['a chunked body in one-byte chunks',                   send('POST', '/api/products', chunked('{"name":"Lamp","stock":1}', 1), ['Transfer-Encoding: chunked']), 400, /body\.priceCents/],
  ['chunk extensions',                                    send('POST', '/api/users', '7;ext=1\r\n{"a":1}\r\n0\r\n\r\n', ['Transfer-Encoding: chunked']), 400, /body\.a/],
  ['a chunked body nested too deep',                      send('POST', '/api/orders', chunked(nested(1_000, '[', ']'), 512), ['Transfer-Encoding: chunked']), 400, DEPTH],
  ['a chunk size that is not hex',                        send('POST', '/api/users', 'zz\r\n{}\r\n0\r\n\r\n', ['Transfer-Encoding: chunked']), 400, PARSER],
  ['a chunk size that overflows',                         send('POST', '/api/users', 'ffffffffffffffffffff\r\n{}\r\n0\r\n\r\n', ['Transfer-Encoding: chunked']), 400, PARSER],
  ['two equal Content-Length headers',                    send('POST', '/api/users', '{}', ['Content-Length: 2', 'Content-Length: 2']), 400, PARSER],
  ['two conflicting Content-Length headers',              send('POST', '/api/users', '{}x', ['Content-Length: 2', 'Content-Length: 3']), 400, PARSER],
  ['a Content-Length list',                               send('POST', '/api/products', '{}', ['Content-Length: 2, 2']),               400, PARSER],
  ['a negative Content-Length',                           send('POST', '/api/users', '{}', ['Content-Length: -1']),                    400, PARSER],
  ['a Content-Length with a plus sign',                   send('POST', '/api/orders', '{}', ['Content-Length: +2']),                   400, PARSER],
  ['a Content-Length in exponent notation',               send('POST', '/api/users', '{}', ['Content-Length: 2e0']),                   400, PARSER],
  ['Content-Length and chunked together',                 send('POST', '/api/users', '2\r\n{}\r\n0\r\n\r\n', ['Content-Length: 2', 'Transfer-Encoding: chunked']), 400, PARSER],
  ['chunked, then identity',                              send('POST', '/api/users', '2\r\n{}\r\n0\r\n\r\n', ['Transfer-Encoding: chunked, identity']), 400, PARSER],
  ['a second request smuggled after the body',            wire(`POST /api/users HTTP/1.1\r\nHost: glassbox.test\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}${get('/api/users/%2e%2e%5cmetrics').toString('latin1')}`), 400, /body\.name/],
];

// prettier-ignore
const METHODS: Row[] = [
  ['PATCH on a user',                                     send('PATCH', '/api/users/1', { name: 'x' }),                                405, /PATCH is not allowed/],
  ['PROPFIND on users',                                   request('PROPFIND', '/api/users'),                                           405, /PROPFIND is not allowed/],
  ['M-SEARCH on products',                                request('M-SEARCH', '/api/products'),                                        405, /M-SEARCH is not allowed/],
  ['TRACE on orders',                                     request('TRACE', '/api/orders'),                                             405, /TRACE is not allowed/],
  ['DELETE on a product',                                 request('DELETE', '/api/products/1'),                                        405, /DELETE is not allowed/],
  ['PUT on an order',                                     send('PUT', '/api/orders/1', {}),                                            405, /PUT is not allowed/],
  ['POST on a user',                                      send('POST', '/api/users/1', {}),                                            405, /POST is not allowed/],
  ['DELETE on the order list',                            request('DELETE', '/api/orders'),                                            405, /DELETE is not allowed/],
  ['PUT on the product list',                             send('PUT', '/api/products', {}),                                            405, /PUT is not allowed/],
  ['a method nobody defined',                             request('FOO', '/api/users'),                                                400, PARSER],
  ['a method in lower case',                              request('get', '/api/users'),                                                400, PARSER],
  ['CONNECT to a service behind the gateway',             wire('CONNECT users:8081 HTTP/1.1\r\nHost: users:8081\r\n\r\n'),             405, /CONNECT/],
  ['OPTIONS: the allowed methods, nothing else',          request('OPTIONS', '/api/users'),                                            200],
];

// prettier-ignore
const ABORTED: Row[] = [
  ['a body cut off halfway',                              send('POST', '/api/users', '{"name":"Mal', ['Content-Length: 100']),          'hang up'],
  ['a chunked body without its last chunk',               send('POST', '/api/orders', '5\r\n{"a":\r\n', ['Transfer-Encoding: chunked']), 'hang up'],
  ['headers only, the body never sent',                   send('PUT', '/api/users/1', '', ['Content-Length: 40']),                     'hang up'],
  ['half of the headers',                                 wire('POST /api/products HTTP/1.1\r\nHost: glassbox.test\r\nContent-Ty'),     'hang up'],
];

// prettier-ignore
const GARBAGE: Row[] = [
  ['a TLS ClientHello on the plain port',                 Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, ...Array<number>(32).fill(7)]), 400, PARSER],
  ['the HTTP/2 connection preface',                       wire('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'),                                    400, PARSER],
  ['random bytes',                                        Buffer.from([0x8f, 0x13, 0xaa, 0xfe, 0x00, 0x01, 0x47, 0x0d, 0x0a, 0x0d, 0x0a]), 400, PARSER],
  ['HTTP/9.9',                                            wire('GET /api/users HTTP/9.9\r\nHost: glassbox.test\r\n\r\n'),              400, PARSER],
  ['a header line without a colon',                       get('/api/users', ['Bad header']),                                           400, PARSER],
  ['a space in a header name',                            get('/api/users', ['Bad Header: x']),                                        400, PARSER],
  ['a folded header line',                                get('/api/users', ['X-Note: a', '  folded']),                                400, PARSER],
  ['a tab in the request target',                         get('/api/users/1\t2'),                                                      400, PARSER],
  ['raw UTF-8 bytes in the request target',               get('/api/users/\xef\xbc\x91'),                                              400, PARSER],
  ['a Cookie of 20 KB',                                   get('/api/products', [`Cookie: ${'c'.repeat(20_000)}`]),                     431, TOO_LARGE],
  ['no Host header',                                      wire('GET /api/products HTTP/1.1\r\nConnection: close\r\n\r\n'),            400, /[Hh]ost/],
];

const TRACEPARENT = (traceId: string, spanId = 'b7ad6b7169203331', flags = '01') =>
  `traceparent: 00-${traceId}-${spanId}-${flags}`;
const A_TRACE = '0af7651916cd43dd8448eb211c80319c';
const LIST = '/api/products?limit=1';

// Harmless: answered 200 with the edge's own trace; what is too large for the header limit is a 431.
// prettier-ignore
const TRACE_HEADERS: Row[] = [
  ['an all-zero trace id',                                get(LIST, [TRACEPARENT('0'.repeat(32))]),                                    200],
  ['an all-zero parent id',                               get(LIST, [TRACEPARENT(A_TRACE, '0'.repeat(16))]),                           200],
  ['version ff',                                          get(LIST, [`traceparent: ff-${A_TRACE}-b7ad6b7169203331-01`]),               200],
  ['a future version with more fields',                   get(LIST, [`traceparent: 01-${A_TRACE}-b7ad6b7169203331-01-beef`]),          200],
  ['upper-case hex',                                      get(LIST, [TRACEPARENT(A_TRACE.toUpperCase())]),                             200],
  ['not hex',                                             get(LIST, [TRACEPARENT('z'.repeat(32))]),                                    200],
  ['a traceparent of 8 KB',                               get(LIST, [TRACEPARENT(A_TRACE) + '-'.repeat(8_000)]),                      200],
  ['an empty traceparent',                                get(LIST, ['traceparent: ']),                                                200],
  ['two traceparent headers',                             get(LIST, [TRACEPARENT(A_TRACE), TRACEPARENT('1'.repeat(32))]),              200],
  ['sampling forced off',                                 get(LIST, [TRACEPARENT(A_TRACE, undefined, '00')]),                          200],
  ['a tracestate of 8 KB',                                get(LIST, [TRACEPARENT(A_TRACE), `tracestate: ${Array.from({ length: 800 }, (_, i) => `k${i}=v`).join(',')}`]), 200],
  ['a tracestate of invalid members',                     get(LIST, [TRACEPARENT(A_TRACE), 'tracestate: !!!=@@@,=,,==']),              200],
  ['a baggage of 8 KB',                                   get(LIST, [`baggage: user.role=${'a'.repeat(8_000)}`]),                      200],
  ['a baggage of 1,000 members',                          get(LIST, [`baggage: ${Array.from({ length: 1_000 }, (_, i) => `m${i}=1`).join(',')}`]), 200],
  ['a baggage of broken percent-encoding',                get(LIST, ['baggage: role=%zz%,tenant=%']),                                  200],
  ['a baggage of odd properties',                         get(LIST, ['baggage: role=admin;;=;p=,=v']),                                 200],
  ['a garbage b3 header',                                 get(LIST, ['b3: zzzz-yyyy-2-xxxx']),                                          200],
  ['a garbage uber-trace-id',                             get(LIST, ['uber-trace-id: :::::']),                                          200],
  ['trace headers beside a bad body',                     send('POST', '/api/users', user({ email: 'nope' }), [TRACEPARENT(A_TRACE), 'baggage: role=admin']), 400, /body\.email/],
  ['a tracestate of 20 KB',                               get(LIST, [TRACEPARENT(A_TRACE), `tracestate: k=${'v'.repeat(20_000)}`]),     431, TOO_LARGE],
  ['a baggage of 20 KB',                                  get(LIST, [`baggage: k=${'v'.repeat(20_000)}`]),                             431, TOO_LARGE],
];

// prettier-ignore
const IDS_AND_HEADERS: Row[] = [
  ['a word as a user id',                                 get('/api/users/abc'),                                                       400, ID],
  ['0 as a user id',                                      get('/api/users/0'),                                                         400, ID],
  ['a negative product id',                               get('/api/products/-1'),                                                     400, ID],
  ['a fractional order id',                               get('/api/orders/1.5'),                                                      400, ID],
  ['an id in exponent notation',                          get('/api/products/1e3'),                                                    400, ID],
  ['a hexadecimal id',                                    get('/api/users/0x10'),                                                      400, ID],
  ['an id with a leading zero',                           get('/api/orders/01'),                                                       400, ID],
  ['an id with a leading space',                          get('/api/users/%201'),                                                      400, ID],
  ['an id with SQL in it',                                request('DELETE', "/api/users/1%20OR%201=1"),                                400, ID],
  ['a user id with SQL in a query',                       get("/api/orders?userId=1'--"),                                              400, /query\.userId/],
  ['no user id for the order list',                       get('/api/orders'),                                                          400, /userId/],
  ['a page size that is a word',                          get('/api/users?limit=abc'),                                                 400, /query\.limit/],
  ['an empty Idempotency-Key',                            send('POST', '/api/orders', {}, ['Idempotency-Key:']),                       400, /idempotency-key/],
  ['an Idempotency-Key with a Latin-1 byte',              send('POST', '/api/orders', {}, ['Idempotency-Key: caf\xe9']),                400, /idempotency-key/],
];

function table(group: string, rows: Row[]): HostileCase[] {
  return rows.map(([what, bytes, status, names]) => ({
    group,
    what,
    bytes,
    expected: status === 'hang up' ? { hangUp: true } : { status, names },
  }));
}

export const TRAVERSAL_CASES = table('traversal', TRAVERSAL);

export const HOSTILE_CASES: HostileCase[] = [
  ...TRAVERSAL_CASES,
  ...table('deep JSON', DEEP_JSON),
  ...table('NUL and control characters', CONTROL_CHARACTERS),
  ...table('bidi, surrogates, encodings', UNICODE),
  ...table('overlong strings', OVERLONG),
  ...table('numbers out of range', NUMBERS),
  ...table('wrong types', WRONG_TYPES),
  ...table('unknown fields', UNKNOWN_FIELDS),
  ...table('duplicates', DUPLICATES),
  ...table('content types', CONTENT_TYPES),
  ...table('bodies and framing', BODIES_AND_FRAMING),
  ...table('methods', METHODS),
  ...table('aborted requests', ABORTED),
  ...table('garbage', GARBAGE),
  ...table('trace headers', TRACE_HEADERS),
  ...table('ids and headers', IDS_AND_HEADERS),
];

/** An answer as read off the socket. */
export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** The status of every response on the connection (more than one when a request was smuggled behind another). */
  statuses: number[];
}

/**
 * Sends a case on a new connection to `base` (the gateway's URL). Resolves
 * with the answer once the server closes the connection, or with undefined
 * for a case that hangs up.
 */
export function sendCase(base: string, hostile: HostileCase): Promise<RawAnswer | undefined> {
  return exchange(base, hostile.bytes, 'hangUp' in hostile.expected, hostile.what);
}

/** Writes `bytes` on a new connection and reads the answer until the server closes it (or hangs up itself). */
export function exchange(
  base: string,
  bytes: Buffer,
  hangUp = false,
  what = 'the request',
): Promise<RawAnswer | undefined> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect(Number(port), hostname, () => {
      socket.write(bytes);
      if (hangUp) setTimeout(() => socket.destroy(), 50);
    });
    socket.setTimeout(10_000, () => socket.destroy(new Error(`no answer within 10 s to ${what}`)));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', (error) => (hangUp ? resolve(undefined) : reject(error)));
    socket.on('close', () => {
      if (hangUp) return resolve(undefined);
      // latin1 keeps one character per byte, so Content-Length can be counted in characters.
      const text = Buffer.concat(chunks).toString('latin1');
      const answer = parseAnswer(text);
      if (answer) resolve(answer);
      else
        reject(
          new Error(`${what}: no HTTP answer before the connection closed: ${JSON.stringify(text.slice(0, 200))}`),
        );
    });
  });
}

function parseAnswer(text: string): RawAnswer | undefined {
  const head = /^HTTP\/1\.[01] (\d{3})[^\r]*\r\n([\s\S]*?)\r\n\r\n/.exec(text);
  if (!head) return undefined;
  const headers: Record<string, string> = {};
  for (const line of (head[2] ?? '').split(CRLF)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  const rest = text.slice(head[0].length);
  const length = Number(headers['content-length'] ?? Number.NaN);
  const bytes =
    headers['transfer-encoding'] === 'chunked' ? dechunk(rest) : Number.isNaN(length) ? rest : rest.slice(0, length);
  const body = Buffer.from(bytes, 'latin1').toString('utf8');
  const statuses = [...text.matchAll(/(?:^|\r\n)HTTP\/1\.[01] (\d{3}) /g)].map((match) => Number(match[1]));
  return { status: Number(head[1]), headers, body, statuses };
}

function dechunk(text: string): string {
  let body = '';
  for (let at = 0; ;) {
    const end = text.indexOf(CRLF, at);
    const size = parseInt(text.slice(at, end), 16);
    if (!(size > 0)) return body;
    body += text.slice(end + 2, end + 2 + size);
    at = end + 2 + size + 2;
  }
}

/**
 * What no answer of the public edge may show: a stack trace, SQL, or the name
 * of a host behind it. `internal` adds the addresses of this run's services.
 */
const LEAKS = [
  /\n\s+at \S/, // a stack frame
  /\(?\/[\w./-]+\.(?:js|ts):\d+(?::\d+)?\)?/, // a source location
  /node:internal/,
  /\b(?:SELECT|INSERT INTO|UPDATE \w+ SET|DELETE FROM)\b/, // a statement
  /syntax error at or near|violates \w+ constraint|relation "\w+"/, // a PostgreSQL complaint about one
  /\b(?:users|products|orders|notifications|postgres|rabbitmq):\d{2,5}\b/, // a compose service address
  /ECONNREFUSED|ETIMEDOUT|EAI_AGAIN|getaddrinfo/,
];

/** The assertions every answer gets: the expected status, a JSON error that names the problem, nothing leaked. */
export function checkAnswer(hostile: HostileCase, answer: RawAnswer | undefined, internal: string[] = []): void {
  if ('hangUp' in hostile.expected) return;
  const { status, names } = hostile.expected;
  assert.ok(answer, 'an answer');
  assert.ok(
    answer.statuses.every((each) => each < 500),
    `no 5xx on the connection: ${answer.statuses.join(', ')}`,
  );
  assert.equal(answer.status, status, `status ${answer.status}, body ${answer.body.slice(0, 300)}`);
  for (const leak of [...LEAKS, ...internal.map((host) => new RegExp(host.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))]) {
    assert.doesNotMatch(answer.body, leak, 'the body leaks what is behind the edge');
  }
  if (status >= 400) {
    assert.match(answer.headers['content-type'] ?? '', /^application\/json/, `a JSON error: ${answer.body}`);
    const error = (JSON.parse(answer.body) as { error?: { message?: unknown; details?: unknown } }).error;
    assert.equal(typeof error?.message, 'string', `a JSON error: ${answer.body}`);
    if (names) assert.match(`${String(error?.message)} ${JSON.stringify(error?.details ?? '')}`, names);
  } else if (answer.body !== '') {
    JSON.parse(answer.body); // a 2xx body is the service's JSON, as for any caller
  }
}

/** True when an answer looks like what an internal endpoint serves: metrics, a readiness report, the fault switches. */
export function looksInternal(answer: RawAnswer | undefined): boolean {
  return answer !== undefined && /# (?:HELP|TYPE) |"checks"\s*:|"enabled"\s*:|process_cpu/.test(answer.body);
}

/** The W3C traceresponse of an answer: the trace it was recorded under. */
export function traceresponseOf(answer: RawAnswer | undefined): { traceId: string; sampled: boolean } | undefined {
  const match = /^00-([0-9a-f]{32})-([0-9a-f]{16})-(0[01])$/.exec(answer?.headers.traceresponse ?? '');
  return match ? { traceId: match[1] as string, sampled: match[3] === '01' } : undefined;
}
