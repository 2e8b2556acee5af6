import type { ParameterizedContext } from 'koa';
import { upstreamTimeout, upstreamUnreachable, type AppError, type AppState } from '@glassbox/service-kit';

/** Request headers worth passing on; hop-by-hop and host headers are not. */
const FORWARDED_REQUEST_HEADERS = ['accept', 'x-request-id'];
const FORWARDED_RESPONSE_HEADERS = ['content-type', 'location', 'allow', 'retry-after'];

/**
 * One service behind the gateway. Requests are sent with global fetch: the
 * undici instrumentation makes the CLIENT span and injects `traceparent`, so
 * the service's SERVER span joins the gateway's trace without a line of code
 * here.
 */
export class Upstream {
  constructor(
    readonly name: string,
    private readonly baseUrl: string,
    private readonly timeoutMs: number,
  ) {}

  /** Sends the request on to `path` and copies the answer back, status and body as they are. */
  async forward(ctx: ParameterizedContext<AppState>, path: string): Promise<void> {
    const headers: Record<string, string> = { 'x-request-id': ctx.state.requestId };
    for (const name of FORWARDED_REQUEST_HEADERS) {
      const value = ctx.get(name);
      if (value && name !== 'x-request-id') headers[name] = value;
    }
    const body = ctx.request.body === undefined ? undefined : JSON.stringify(ctx.request.body);
    if (body !== undefined) headers['content-type'] = 'application/json';

    let response: Response;
    let text: string;
    try {
      response = await fetch(new URL(path + ctx.search, this.baseUrl), {
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
