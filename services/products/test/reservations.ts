import type { CallerDeadline } from '../src/products';

/** A caller that waits as long as it takes: for tests about stock, not about deadlines. */
export const patientCaller = (): CallerDeadline => ({ at: Infinity, signal: new AbortController().signal });
