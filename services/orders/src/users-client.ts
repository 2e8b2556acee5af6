import { dependencyUnavailable, unprocessable, upstreamTimeout } from '@glassbox/service-kit';

/**
 * What orders needs from the users service: does this user exist? One HTTP
 * call with a deadline; the undici instrumentation makes its CLIENT span and
 * carries the trace context.
 */
export class UsersClient {
  constructor(
    private readonly baseUrl: string,
    private readonly timeoutMs: number,
  ) {}

  /** Resolves if the user exists; a 422 naming it if not; 503/504 if users can not say. */
  async assertExists(userId: number): Promise<void> {
    let response: Response;
    try {
      response = await fetch(new URL(`/users/${userId}`, this.baseUrl), {
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      await response.arrayBuffer();
    } catch (error) {
      const timedOut = (error as { name?: string }).name === 'TimeoutError';
      throw timedOut ? upstreamTimeout('users', this.timeoutMs, error) : dependencyUnavailable('users', error);
    }
    if (response.status === 404) throw unprocessable(`user ${userId} does not exist`, { field: 'userId' });
    if (!response.ok) {
      throw dependencyUnavailable('users', undefined, `users answered ${response.status} for user ${userId}`);
    }
  }
}
