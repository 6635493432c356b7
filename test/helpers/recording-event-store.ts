import { EntityManager } from 'typeorm';
import { SqlChange } from '../../src/common/database/sql-change';
import { AppendedEvent, EventStore, NewEvent } from '../../src/common/events/event-store';
import { Clock } from '../../src/common/time/clock';
import { UserView } from '../../src/identity';

/**
 * The event store of a service's unit spec: appends are recorded in memory, each the next sequence at
 * the clock's time; everything the store builds on `append` (appendUserEvent) records through it.
 */
export class RecordingEventStore extends EventStore {
  readonly appended: NewEvent[] = [];

  constructor(private readonly at: Clock) {
    super(at);
  }

  override async append(_em: EntityManager, e: NewEvent): Promise<AppendedEvent> {
    this.appended.push(e);
    const now = this.at.now();
    return {
      aggregateId: e.aggregateId,
      resourceOwner: e.resourceOwner,
      sequence: this.appended.length,
      createdAt: now,
      aggregateCreatedAt: now,
    };
  }

  /** Applies a change made by `fakeChange` (its in-memory effect) and appends only if it applied. */
  override async changeAndAppend(em: EntityManager, change: SqlChange, e: NewEvent | NewEvent[]) {
    if (!applyFake(change)) return undefined;
    let last: AppendedEvent | undefined;
    for (const one of Array.isArray(e) ? e : [e]) last = await this.append(em, one);
    return last;
  }

  /** No aggregate has a stored history in memory. */
  override async aggregate(): Promise<undefined> {
    return undefined;
  }

  types(): string[] {
    return this.appended.map((e) => e.eventType);
  }
}

const APPLY = Symbol('apply');
type FakeChange = SqlChange & { [APPLY]?: () => boolean };

/**
 * The change a fake repository names instead of SQL: `apply` is its effect on the fake's rows, run by
 * RecordingEventStore.changeAndAppend; true when it applied.
 */
export function fakeChange(apply: () => boolean): SqlChange {
  return { sql: '', params: [], [APPLY]: apply } as FakeChange;
}

/** Runs a change made by `fakeChange` (its in-memory effect): true when it applied. */
export function applyFake(change: SqlChange): boolean {
  const apply = (change as FakeChange)[APPLY];
  if (!apply) throw new Error('a unit spec hands changeAndAppend a change made by fakeChange');
  return apply();
}

/** The TransactionRunner of a unit spec: every unit runs at once on `em`. */
export function inlineTransactions(em: EntityManager) {
  return {
    runs: 0,
    run<T>(work: (em: EntityManager) => Promise<T>): Promise<T> {
      this.runs++;
      return work(em);
    },
    /** As `run`: a unit of its own, counted. */
    oneStatement<T>(work: (em: EntityManager) => Promise<T>): Promise<T> {
      return this.run(work);
    },
    /** Each item at once, as a batch of one in a unit of its own. */
    batched<I, O>(work: (em: EntityManager, items: I[]) => Promise<O[]>) {
      return { submit: (item: I) => this.run(async (e) => (await work(e, [item]))[0]) };
    },
  };
}

/** A human user with a verified email address and no phone, as UsersReader returns one. */
export const ALICE: UserView = {
  id: '300000000000000001',
  orgId: '200000000000000001',
  orgDomain: 'acme.localhost',
  type: 'human',
  state: 'ACTIVE',
  username: 'alice',
  loginName: 'alice@acme.localhost',
  email: 'alice@example.com',
  emailVerified: true,
  phone: null,
  phoneVerified: false,
  preferredLanguage: null,
};
