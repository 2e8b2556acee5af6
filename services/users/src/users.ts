import { z } from 'zod';
import { type FaultSwitches, notFound, type Page, singleLineText } from '@glassbox/service-kit';

export interface User {
  id: number;
  name: string;
  email: string;
  createdAt: string;
}

/** What a caller may send to create or replace a user. Unknown fields are refused, not ignored. */
export const userInput = z.strictObject({
  name: singleLineText(1, 200),
  email: z
    .email()
    .max(254)
    .transform((email) => email.toLowerCase()),
});
export type UserInput = z.output<typeof userInput>;

export interface UserPage {
  items: User[];
  page: Page & { total: number };
}

/** Where users are kept: PostgreSQL, or memory for fast tests (repository.ts). */
export interface UserRepository {
  list(page: Page): Promise<{ items: User[]; total: number }>;
  /** `slow`: the slow-sql fault scenario, a query that takes 400 ms longer. */
  find(id: number, options?: { slow?: boolean }): Promise<User | undefined>;
  /** Throws a 409 when the email is taken. */
  insert(input: UserInput): Promise<User>;
  /** Undefined when there is no such user; throws a 409 when the email is taken. */
  update(id: number, input: UserInput): Promise<User | undefined>;
  /** False when there was no such user. */
  delete(id: number): Promise<boolean>;
  /** Resolves when the store answers: what /readyz asks. */
  ping(): Promise<void>;
}

/** The faults users can play (docs/scenarios/). */
export const USERS_FAULTS = {
  'slow-sql': 'GET /users/:id waits 400 ms inside its SQL query',
  'error-burst': 'about 30% of GET /users/:id fail with a 500',
};

/** The users service's logic. Thin on purpose: the repository owns uniqueness. */
export class UserDirectory {
  constructor(
    private readonly repository: UserRepository,
    private readonly faults?: FaultSwitches,
  ) {}

  async list(page: Page): Promise<UserPage> {
    const { items, total } = await this.repository.list(page);
    return { items, page: { ...page, total } };
  }

  async get(id: number): Promise<User> {
    const user = (await this.repository.find(id, { slow: this.faults?.enabled('slow-sql') })) ?? missing(id);
    if (this.faults?.enabled('error-burst') && Math.random() < 0.3) {
      // The scenario's bug: looks like a flaky dependency, is a plain exception.
      throw new Error(`user cache returned a corrupt entry for user ${id}`);
    }
    return user;
  }

  register(input: UserInput): Promise<User> {
    return this.repository.insert(input);
  }

  async replace(id: number, input: UserInput): Promise<User> {
    return (await this.repository.update(id, input)) ?? missing(id);
  }

  async remove(id: number): Promise<void> {
    if (!(await this.repository.delete(id))) missing(id);
  }
}

function missing(id: number): never {
  throw notFound(`user ${id} does not exist`);
}
