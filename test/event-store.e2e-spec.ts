import { DataSource } from 'typeorm';
import { rawQuery } from '../src/common/database/db-dialect';
import { TransactionRunner } from '../src/common/database/transaction-runner';
import { EventStore, userEvent } from '../src/common/events/event-store';
import { Outbox } from '../src/common/events/outbox';
import { createTestApp, TestApp } from './helpers/test-app';

/**
 * The event log as the services write it, on the database the suite runs on: an append writes the
 * aggregate's next sequence, the event (with its payload) and, when the event asks for a notification,
 * its outbox row; a change recorded with changeAndAppend writes its event exactly when it applied.
 * (On PostgreSQL each of these is one statement; on SQLite a few, in the caller's transaction.)
 */
describe('EventStore on the real database', () => {
  let t: TestApp;
  let ds: DataSource;
  let events: EventStore;
  let runner: TransactionRunner;
  let woken = 0;
  const user = { id: '390000000000000001', orgId: '290000000000000001' };
  const caller = { userId: '390000000000000009' };

  beforeAll(async () => {
    t = await createTestApp({ env: { NOTIFY_EVENTS: 'factor_added,factor_removed' } });
    ds = t.app.get(DataSource);
    events = t.app.get(EventStore);
    runner = t.app.get(TransactionRunner);
    t.app.get(Outbox).onCommitted(() => woken++);
    await rawQuery(ds, `CREATE TABLE event_store_probe (id VARCHAR(20) PRIMARY KEY, n INTEGER NOT NULL)`);
    await rawQuery(ds, `INSERT INTO event_store_probe (id, n) VALUES ('a', 0)`);
  });

  afterAll(async () => {
    await rawQuery(ds, 'DROP TABLE event_store_probe');
    await t.close();
  });

  const eventsOf = async (id: string) =>
    (
      await rawQuery<{
        sequence: number | string;
        event_type: string;
        payload: string | null;
        creator: string;
      }>(
        ds,
        `SELECT sequence, event_type, payload, creator FROM events WHERE aggregate_id = $1 ORDER BY sequence`,
        [id],
      )
    ).rows.map((r) => ({ ...r, sequence: Number(r.sequence) }));
  const outboxOf = async (id: string) =>
    (
      await rawQuery<{ kind: string; event_type: string; payload: string | null }>(
        ds,
        `SELECT kind, event_type, payload FROM notification_outbox WHERE user_id = $1 ORDER BY id`,
        [id],
      )
    ).rows;
  const probe = async () =>
    Number(
      (await rawQuery<{ n: number | string }>(ds, `SELECT n FROM event_store_probe WHERE id = 'a'`)).rows[0]
        .n,
    );
  const bump = (from: number) => ({
    sql: `UPDATE event_store_probe SET n = n + 1 WHERE id = $1 AND n = $2`,
    params: ['a', from],
  });

  it('append: the next sequence of the aggregate, the payload, and the outbox row of an event that notifies', async () => {
    const first = await runner.run((em) =>
      events.append(em, userEvent(caller, user, 'user.human.mfa.otp.added', { at: 1 })),
    );
    const second = await runner.run((em) =>
      events.append(em, userEvent(caller, user, 'user.human.mfa.otp.check.succeeded', {})),
    );
    expect(first).toMatchObject({ aggregateId: user.id, resourceOwner: user.orgId, sequence: 1 });
    expect(second.sequence).toBe(2);
    expect(second.aggregateCreatedAt).toBe(first.createdAt);
    expect(await eventsOf(user.id)).toEqual([
      { sequence: 1, event_type: 'user.human.mfa.otp.added', payload: '{"at":1}', creator: caller.userId },
      {
        sequence: 2,
        event_type: 'user.human.mfa.otp.check.succeeded',
        payload: '{}',
        creator: caller.userId,
      },
    ]);
    // only the first asks for a notification
    expect(await outboxOf(user.id)).toEqual([
      { kind: 'factor_added', event_type: 'user.human.mfa.otp.added', payload: '{"at":1}' },
    ]);
  });

  it('changeAndAppend: the event is written exactly when the change applied, atomically with it', async () => {
    const id = '390000000000000002';
    const subject = { id, orgId: user.orgId };
    const applied = await runner.run((em) =>
      events.changeAndAppend(em, bump(0), userEvent(caller, subject, 'user.human.mfa.otp.removed', { n: 1 })),
    );
    expect(applied).toMatchObject({ aggregateId: id, sequence: 1 });
    expect(await probe()).toBe(1);
    // the same change again no longer applies: nothing is written
    const notApplied = await runner.run((em) =>
      events.changeAndAppend(em, bump(0), userEvent(caller, subject, 'user.human.mfa.otp.removed', { n: 2 })),
    );
    expect(notApplied).toBeUndefined();
    expect(await probe()).toBe(1);
    expect(await eventsOf(id)).toEqual([
      { sequence: 1, event_type: 'user.human.mfa.otp.removed', payload: '{"n":1}', creator: caller.userId },
    ]);
    expect(await outboxOf(id)).toEqual([
      { kind: 'factor_removed', event_type: 'user.human.mfa.otp.removed', payload: '{"n":1}' },
    ]);
  });

  it('a transaction that fails after changeAndAppend keeps neither the change nor the event', async () => {
    const id = '390000000000000003';
    const before = await probe();
    await expect(
      runner.run(async (em) => {
        await events.changeAndAppend(
          em,
          bump(before),
          userEvent(caller, { id, orgId: user.orgId }, 'x.y', {}),
        );
        throw new Error('later step failed');
      }),
    ).rejects.toThrow('later step failed');
    expect(await probe()).toBe(before);
    expect(await eventsOf(id)).toEqual([]);
  });

  it('the delivery worker is woken once an outbox row is committed', async () => {
    const id = '390000000000000004';
    const seen = woken;
    await runner.run((em) =>
      events.append(em, userEvent(caller, { id, orgId: user.orgId }, 'user.human.mfa.otp.added', {})),
    );
    await new Promise((resolve) => setImmediate(resolve));
    expect(woken).toBeGreaterThan(seen);
  });
});
