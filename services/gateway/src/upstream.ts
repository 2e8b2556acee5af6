import type { ParameterizedContext } from 'koa';
import { upstreamTimeout, upstreamUnreachable, type AppError, type AppState } from '@glassbox/service-kit';

const FORWARDED_RESPONSE_HEADERS = ['content-type', 'location', 'allow', 'retry-after'];

/** What the gateway sends a service: built by a route from validated parameters only. */
export interface UpstreamRequest {
  /** The service's own path, e.g. `/users/7`. */
  path: string;
  query: URLSearchParams;
  /** Headers the route passes on; X-Request-Id is always added. */
  headers: Record<string, string>;
}

/**
 * One service behind the gateway. Requests are sent with global fetch: the
 * undici instrumentation makes the CLIENT span and injects `traceparent`, so
 * the service's SERVER span joins the gateway's trace without a line of code
 * here. Nothing the caller sent travels on unless a route put it in the
 * UpstreamRequest: no path, query string or header of its own.
 */
export class Upstream {
  constructor(
    readonly name: string,
    private readonly baseUrl: string,
    private readonly timeoutMs: number,
  ) {}

  /** Sends the request on and copies the answer back, status and body as they are. */
  async forward(ctx: ParameterizedContext<AppState>, request: UpstreamRequest): Promise<void> {
    const url = new URL(request.path, this.baseUrl);
    url.search = request.query.toString();
    const headers: Record<string, string> = { ...request.headers, 'x-request-id': ctx.state.requestId };
    // The body as the kit's reader parsed it (no deeper than MAX_JSON_DEPTH), written anew:
    // the service reads exactly what the gateway read, one value per key.
    const body = ctx.request.body === undefined ? undefined : JSON.stringify(ctx.request.body);
    if (body !== undefined) headers['content-type'] = 'application/json';

    let response: Response;
    let text: string;
    try {
      response = await fetch(url, {
        method: ctx.method,
        headers,
        body,
        signal: AbortSignal.timeout(this.timeoutMs),
        redirect: 'manual',
      });
      text = await response.text();
    } catch (error) {
      throw this.failure(error);
    }
    ctx.status = response.status;
    for (const name of FORWARDED_RESPONSE_HEADERS) {
      const value = response.headers.get(name);
      if (value) ctx.set(name, name === 'location' ? `/api${value}` : value);
    }
    ctx.body = text === '' ? null : text;
    if (text === '') ctx.status = response.status; // setting body to null resets the status to 204
  }

  /** Readiness: the service answers its liveness probe. */
  async ping(): Promise<void> {
    const response = await fetch(new URL('/healthz', this.baseUrl), { signal: AbortSignal.timeout(this.timeoutMs) });
    if (!response.ok) throw new Error(`${this.name} /healthz answered ${response.status}`);
  }

  private failure(error: unknown): AppError {
    const name = (error as { name?: string }).name;
    const timedOut = name === 'TimeoutError' || name === 'AbortError';
    return timedOut ? upstreamTimeout(this.name, this.timeoutMs, error) : upstreamUnreachable(this.name, error);
  }
}
