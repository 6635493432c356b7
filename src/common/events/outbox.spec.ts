import { DataSource } from 'typeorm';
import { notificationFor } from '../../notifications/notification-kinds';
import { NOTIFICATION_KINDS } from '../config/env.dto';
import { NewEvent } from './event-store';
import { Outbox } from './outbox';

/** The enqueue path, also of events whose routes land elsewhere (recovery codes): the row the Outbox writes. */
describe('Outbox.rowFor', () => {
  const ds = { subscribers: [] } as unknown as DataSource;
  const event = (eventType: string, payload?: Record<string, unknown>): NewEvent => ({
    aggregateType: 'user',
    aggregateId: '100000000000000001',
    resourceOwner: '200000000000000002',
    creator: '100000000000000001',
    eventType,
    payload,
  });

  it('writes nothing before a router is installed', () => {
    expect(new Outbox(ds).rowFor(event('user.human.mfa.otp.added'), 1)).toBeUndefined();
  });

  it('gives the INSERT_OUTBOX_SQL params of the kind the router picks', () => {
    const outbox = new Outbox(ds);
    const all = new Set(NOTIFICATION_KINDS);
    outbox.routeWith((type, payload) => notificationFor(type, payload, all));
    expect(outbox.rowFor(event('user.human.recoverycodes.added'), 5)).toEqual([
      '100000000000000001',
      '200000000000000002',
      'recovery_codes_generated',
      'user.human.recoverycodes.added',
      null,
      5,
    ]);
    expect(outbox.rowFor(event('user.human.recoverycode.check.succeeded', { remaining: 2 }), 6)).toEqual([
      '100000000000000001',
      '200000000000000002',
      'recovery_codes_low',
      'user.human.recoverycode.check.succeeded',
      '{"remaining":2}',
      6,
    ]);
    expect(outbox.rowFor(event('user.human.recoverycode.check.succeeded', { remaining: 7 }), 6)?.[2]).toBe(
      'recovery_code_used',
    );
    expect(outbox.rowFor(event('user.human.mfa.otp.check.succeeded'), 6)).toBeUndefined();
    expect(outbox.rowFor({ ...event('user.human.mfa.otp.added'), aggregateType: 'org' }, 6)).toBeUndefined();
  });
});
