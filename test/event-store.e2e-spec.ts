import { DataSource } from 'typeorm';
import { dialectOf, rawQuery } from '../src/common/database/db-dialect';
import { SqlChangeBatch } from '../src/common/database/sql-change';
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
    await rawQuery(
      ds,
      `INSERT INTO event_store_probe (id, n) VALUES ('a', 0), ('b1', 0), ('b2', 5), ('b3', 0)`,
    );
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

  it('changeAndAppend with several events of one aggregate: consecutive sequences, outbox rows for those that notify', async () => {
    const id = '390000000000000005';
    const subject = { id, orgId: user.orgId };
    await runner.run((em) => events.append(em, userEvent(caller, subject, 'user.human.phone.changed', {})));
    const several = (from: number) => [
      userEvent(caller, subject, 'user.human.mfa.otp.removed', { from }),
      userEvent(caller, subject, 'user.human.mfa.otp.check.succeeded'),
      userEvent(caller, subject, 'user.human.mfa.otp.added', { from }),
    ];
    const from = await probe();
    // on PostgreSQL also outside a transaction: one statement
    const last = await runner.oneStatement((em) => events.changeAndAppend(em, bump(from), several(from)));
    expect(last).toMatchObject({ aggregateId: id, resourceOwner: user.orgId, sequence: 4 });
    expect(await probe()).toBe(from + 1);
    const notApplied = await runner.oneStatement((em) =>
      events.changeAndAppend(em, bump(from), several(from)),
    );
    expect(notApplied).toBeUndefined();
    expect(await probe()).toBe(from + 1);
    expect(await eventsOf(id)).toEqual([
      { sequence: 1, event_type: 'user.human.phone.changed', payload: '{}', creator: caller.userId },
      {
        sequence: 2,
        event_type: 'user.human.mfa.otp.removed',
        payload: `{"from":${from}}`,
        creator: caller.userId,
      },
      {
        sequence: 3,
        event_type: 'user.human.mfa.otp.check.succeeded',
        payload: null,
        creator: caller.userId,
      },
      {
        sequence: 4,
        event_type: 'user.human.mfa.otp.added',
        payload: `{"from":${from}}`,
        creator: caller.userId,
      },
    ]);
    expect(await outboxOf(id)).toEqual([
      { kind: 'factor_removed', event_type: 'user.human.mfa.otp.removed', payload: `{"from":${from}}` },
      { kind: 'factor_added', event_type: 'user.human.mfa.otp.added', payload: `{"from":${from}}` },
    ]);
    await expect(
      runner.oneStatement((em) =>
        events.changeAndAppend(em, bump(from + 1), [
          userEvent(caller, subject, 'x.y'),
          userEvent(caller, user, 'x.y'),
        ]),
      ),
    ).rejects.toThrow('one aggregate');
  });

  it('changeAndAppend with statements before the change: all of them or none', async () => {
    const id = '390000000000000006';
    const subject = { id, orgId: user.orgId };
    const rowsOf = async (ids: string[]) =>
      (
        await rawQuery<{ id: string }>(
          ds,
          `SELECT id FROM event_store_probe WHERE id IN ($1, $2) ORDER BY id`,
          ids,
        )
      ).rows.map((r) => r.id);
    const adding = (parent: string, child: string) => ({
      before: [`INSERT INTO event_store_probe (id, n) VALUES ($1, 0)`],
      sql: `INSERT INTO event_store_probe (id, n) VALUES ($2, 1)`,
      params: [parent, child],
    });
    const added = await runner.oneStatement((em) =>
      events.changeAndAppend(em, adding('p1', 'c1'), userEvent(caller, subject, 'x.added')),
    );
    expect(added).toMatchObject({ aggregateId: id, sequence: 1 });
    expect(await rowsOf(['p1', 'c1'])).toEqual(['c1', 'p1']);
    // the change fails (its row exists): the statement before it is undone too, and no event written
    await expect(
      runner.oneStatement((em) =>
        events.changeAndAppend(em, adding('p2', 'c1'), userEvent(caller, subject, 'x.added')),
      ),
    ).rejects.toMatchObject({ message: expect.stringMatching(/unique|UNIQUE|duplicate/) });
    expect(await rowsOf(['p2', 'c1'])).toEqual(['c1']);
    expect((await eventsOf(id)).map((e) => e.sequence)).toEqual([1]);
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

  /** The probe rows' bumps from `from`, as the batch form of the database the suite runs on. */
  const bumps = (items: { id: string; from: number }[]): SqlChangeBatch =>
    dialectOf(ds) === 'postgres'
      ? {
          postgres: {
            sql: `UPDATE event_store_probe p SET n = p.n + 1
              FROM unnest($1::varchar[], $2::int[], $3::varchar[]) AS b(id, n_from, user_id)
              WHERE p.id = b.id AND p.n = b.n_from
              RETURNING b.user_id AS aggregate_id`,
            params: [
              items.map((i) => i.id),
              items.map((i) => i.from),
              items.map((_, k) => `39000000000000010${k}`),
            ],
          },
        }
      : {
          each: items.map((i) => ({
            sql: `UPDATE event_store_probe SET n = n + 1 WHERE id = $1 AND n = $2`,
            params: [i.id, i.from],
          })),
        };
  const n = async (id: string) =>
    Number(
      (await rawQuery<{ n: number | string }>(ds, `SELECT n FROM event_store_probe WHERE id = $1`, [id]))
        .rows[0].n,
    );

  it('changeAndAppendEach: each event exactly when its own change applied, with payloads and outbox rows', async () => {
    const subjects = [0, 1, 2].map((k) => ({ id: `39000000000000010${k}`, orgId: user.orgId }));
    const result = await runner.run((em) =>
      events.changeAndAppendEach(
        em,
        // b2 holds 5, so its change does not apply
        bumps([
          { id: 'b1', from: 0 },
          { id: 'b2', from: 0 },
          { id: 'b3', from: 0 },
        ]),
        [
          userEvent(caller, subjects[0], 'user.human.mfa.otp.added', { k: 0 }),
          userEvent(caller, subjects[1], 'user.human.mfa.otp.added', { k: 1 }),
          userEvent(caller, subjects[2], 'user.human.mfa.otp.check.succeeded'),
        ],
      ),
    );
    expect(result.map((a) => a?.aggregateId)).toEqual([subjects[0].id, undefined, subjects[2].id]);
    expect(result[0]).toMatchObject({ sequence: 1, resourceOwner: user.orgId });
    expect([await n('b1'), await n('b2'), await n('b3')]).toEqual([1, 5, 1]);
    expect(await eventsOf(subjects[0].id)).toEqual([
      { sequence: 1, event_type: 'user.human.mfa.otp.added', payload: '{"k":0}', creator: caller.userId },
    ]);
    expect(await eventsOf(subjects[1].id)).toEqual([]);
    expect(await eventsOf(subjects[2].id)).toEqual([
      {
        sequence: 1,
        event_type: 'user.human.mfa.otp.check.succeeded',
        payload: null,
        creator: caller.userId,
      },
    ]);
    // only the applied event that asks for a notification has an outbox row
    expect(await outboxOf(subjects[0].id)).toEqual([
      { kind: 'factor_added', event_type: 'user.human.mfa.otp.added', payload: '{"k":0}' },
    ]);
    expect(await outboxOf(subjects[1].id)).toEqual([]);
    expect(await outboxOf(subjects[2].id)).toEqual([]);
  });

  describe('TransactionBatcher', () => {
    /** Each item records the transaction it ran in; an item whose value is null breaks its row's NOT NULL. */
    const transactionOf = async (em: Parameters<Parameters<TransactionRunner['run']>[0]>[0]) =>
      dialectOf(ds) === 'postgres'
        ? String((await rawQuery<{ tx: string }>(em, `SELECT txid_current()::text AS tx`)).rows[0].tx)
        : 'sqlite';
    const batches: number[] = [];
    const batcher = () =>
      runner.batched<{ key: string; value: number | null }, string>(
        async (em, items) => {
          batches.push(items.length);
          const tx = await transactionOf(em);
          for (const item of items)
            await rawQuery(em, `INSERT INTO event_store_probe (id, n) VALUES ($1, $2)`, [
              item.key,
              item.value,
            ]);
          return items.map(() => tx);
        },
        (item) => item.key.split('#')[0],
      );

    it('items that arrive together share a transaction on PostgreSQL; one key never twice in a batch', async () => {
      batches.length = 0;
      const b = batcher();
      const keys = ['t1', 't2', 't3', 't4', 't5', 't1#2'];
      const txs = await Promise.all(keys.map((key, i) => b.submit({ key, value: i })));
      for (const [i, key] of keys.entries()) expect(await n(key)).toBe(i);
      if (dialectOf(ds) === 'postgres') {
        // the five distinct keys ran in one transaction; the second item of key t1 in the next one
        expect(new Set(txs.slice(0, 5)).size).toBe(1);
        expect(txs[5]).not.toBe(txs[0]);
        // two batches: which of them gets its connection and starts its work first is not ordered
        expect([...batches].sort((a, b) => a - b)).toEqual([1, 5]);
      } else {
        expect(batches).toEqual([1, 1, 1, 1, 1, 1]);
      }
    });

    it('an item the database refuses fails alone; the others of its batch are stored', async () => {
      const b = batcher();
      const results = await Promise.allSettled([
        b.submit({ key: 'u1', value: 1 }),
        b.submit({ key: 'u2', value: null }),
        b.submit({ key: 'u3', value: 3 }),
      ]);
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      expect([await n('u1'), await n('u3')]).toEqual([1, 3]);
      expect((await rawQuery(ds, `SELECT id FROM event_store_probe WHERE id = 'u2'`)).rows).toEqual([]);
    });
  });
});
