import { AppConfig } from '../common/config/app-config';
import { Outbox } from '../common/events/outbox';
import { MailSender, NoticeMail } from '../common/mail/mail-sender';
import { UsersReader, UserView } from '../identity';
import { ClaimedNotice, NotificationRepository } from './notification.repository';
import { NotificationWorker } from './notification.worker';

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

function notice(id: number): ClaimedNotice {
  return {
    id,
    userId: String(1000 + id),
    kind: 'recovery_code_used',
    eventType: 'user.human.recoverycode.check.succeeded',
    payload: { remaining: 5 },
    createdAt: 1_700_000_000_000 + id,
    attempts: 1,
    token: 'lease',
  };
}

/**
 * The worker against fakes: `claims` are the batches its claims answer in turn, `settle` decides each
 * settle's outcome, `send` each mail's. Records what happened, in order.
 */
function workerWith(options: {
  claims: ClaimedNotice[][];
  settle: (n: ClaimedNotice) => Promise<boolean>;
  send?: (mail: NoticeMail) => Promise<'sent'>;
}) {
  const events: string[] = [];
  const claims = [...options.claims];
  const repo = {
    claim: async () => claims.shift() ?? [],
    settle: (n: ClaimedNotice) => {
      events.push(`settle ${n.id}`);
      return options.settle(n);
    },
    retryLater: async (n: ClaimedNotice) => void events.push(`retry ${n.id}`),
    nextDue: async () => undefined,
  };
  const users = {
    findUser: async (id: string): Promise<Partial<UserView>> => {
      events.push(`read ${Number(id) - 1000}`);
      return {
        id,
        type: 'human',
        email: `u${id}@example.com`,
        emailVerified: true,
        preferredLanguage: 'en',
      };
    },
  };
  const mail = {
    sendNotice: async (m: NoticeMail) => {
      events.push(`send ${m.ref.outboxId}`);
      return (options.send ?? (async () => 'sent' as const))(m);
    },
  };
  const outbox = { routeWith: () => undefined, onCommitted: () => undefined };
  const config = {
    notify: {
      kinds: new Set(['recovery_code_used']),
      pollIntervalMs: 3_600_000,
      retryBaseMs: 1000,
      retryMaxMs: 60_000,
      maxAttempts: 5,
    },
    mail: { sendDeadlineMs: 10_000 },
    instance: { id: 'default', domain: 'localhost' },
  } as unknown as AppConfig;
  const worker = new NotificationWorker(
    config,
    repo as unknown as NotificationRepository,
    users as unknown as UsersReader,
    mail as unknown as MailSender,
    outbox as unknown as Outbox,
  );
  const drain = () => (worker as unknown as { drain(): Promise<void> }).drain();
  return { events, drain };
}

describe('NotificationWorker: the records of a batch', () => {
  it('the next mail goes out without waiting for the previous record, and the round ends after every record', async () => {
    const pending: (() => void)[] = [];
    const { events, drain } = workerWith({
      claims: [[notice(1), notice(2), notice(3)]],
      settle: () => new Promise<boolean>((resolve) => pending.push(() => resolve(true))),
    });
    let ended = false;
    const round = drain().then(() => (ended = true));
    for (let turn = 0; turn < 100 && pending.length < 3; turn++) await nextTurn();
    // the recipients are read together (one statement on PostgreSQL); every mail is out and every
    // settle under way before any settle has answered
    expect(events).toEqual([
      'read 1',
      'read 2',
      'read 3',
      'send 1',
      'settle 1',
      'send 2',
      'settle 2',
      'send 3',
      'settle 3',
    ]);
    await nextTurn();
    expect(ended).toBe(false);
    pending.forEach((answer) => answer());
    await round;
    expect(ended).toBe(true);
  });

  it('once a record has failed no further mail of the batch goes out, and the round fails with its error', async () => {
    const failure = new Error('database is failing');
    const { events, drain } = workerWith({
      claims: [[notice(1), notice(2), notice(3)]],
      // a database answers on a later turn; so does a relay
      settle: async () => {
        await nextTurn();
        throw failure;
      },
      send: async () => {
        await nextTurn();
        return 'sent';
      },
    });
    await expect(drain()).rejects.toBe(failure);
    // mail 2 was already on its way when record 1 failed; mail 3 never left
    expect(events.filter((e) => !e.startsWith('read'))).toEqual(['send 1', 'settle 1', 'send 2', 'settle 2']);
  });
});
