import { Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { AppConfig } from '../common/config/app-config';
import { Outbox } from '../common/events/outbox';
import { MailDeliveryError, MailSender } from '../common/mail/mail-sender';
import { UsersReader, UserView } from '../identity';
import { languageOf, renderNotice } from './notification-content';
import { factorOf, notificationFor, NotificationKind } from './notification-kinds';
import { ClaimedNotice, NotificationRepository } from './notification.repository';

/** Rows claimed per round: a bound on what one instance holds (and gives back at shutdown). */
const BATCH = 10;
/** The claim outlives a send (MAIL_SEND_DEADLINE_MS) by this much: time for the user lookup and the settle. */
const LEASE_MARGIN_MS = 60_000;
/** The shortest pause before looking again at a row that is due but was not claimable. */
const MIN_REARM_MS = 50;

/** The delay before try `attempt + 1`: doubling from NOTIFY_RETRY_BASE_MS, capped at NOTIFY_RETRY_MAX_MS. */
export function backoffMs(attempt: number, baseMs: number, maxMs: number): number {
  return Math.min(baseMs * 2 ** Math.min(Math.max(attempt - 1, 0), 30), maxMs);
}

/**
 * Delivers the notification outbox over the mail transport (MAIL_TRANSPORT). It wakes when a
 * transaction that wrote an outbox row commits in this process, when the next retry falls due, and
 * every NOTIFY_POLL_INTERVAL_MS (rows written by other instances, leases of dead workers). A failed
 * send is tried again with exponential backoff; after NOTIFY_MAX_ATTEMPTS tries the row is kept as
 * FAILED. Nothing here fails a request: the request's transaction only wrote the row.
 *
 * Exactly once as far as SMTP allows: the row is claimed (leased) before the send and marked SENT right
 * after the relay accepted the mail (or took the whole mail without confirming in time, which counts as
 * delivered). The one duplicate left: the process dies, or the database fails, between the relay's
 * acceptance and the SENT mark; the lease then runs out and the mail is sent again (at least once) –
 * with the same Message-ID, so mail systems that drop duplicates by Message-ID show it once.
 *
 * Logs name the notification kind and the outbox row id only: never an address, a code or a secret.
 */
@Injectable()
export class NotificationWorker implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('Notifications');
  private running?: Promise<void>;
  private again = false;
  private stopped = false;
  private pollTimer?: NodeJS.Timeout;
  private dueTimer?: NodeJS.Timeout;

  constructor(
    private readonly config: AppConfig,
    private readonly repo: NotificationRepository,
    private readonly users: UsersReader,
    private readonly mail: MailSender,
    outbox: Outbox,
  ) {
    const kinds = config.notify.kinds;
    outbox.routeWith((eventType, payload) => notificationFor(eventType, payload, kinds));
    outbox.onCommitted(() => this.wake());
  }

  onApplicationBootstrap(): void {
    this.pollTimer = setInterval(() => this.wake(), this.config.notify.pollIntervalMs);
    this.pollTimer.unref();
    this.wake();
  }

  /** Stops taking rows and waits for the mail being sent (rows claimed but not tried are given back). */
  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    clearInterval(this.pollTimer);
    clearTimeout(this.dueTimer);
    await this.running;
  }

  /** Starts a delivery round, or asks the running one for another. */
  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.drain()
      .catch((e: unknown) =>
        this.logger.error(
          { err: { message: e instanceof Error ? e.message : String(e) } },
          'notification delivery round failed',
        ),
      )
      .finally(() => {
        this.running = undefined;
        if (this.again) this.wake();
      });
  }

  private async drain(): Promise<void> {
    const leaseMs = this.config.mail.sendDeadlineMs + LEASE_MARGIN_MS;
    for (;;) {
      this.again = false;
      const batch = await this.repo.claim(Date.now(), leaseMs, BATCH);
      if (batch.length === 0 && !this.again) break;
      await this.deliverAll(batch);
      if (this.stopped) return;
    }
    await this.armForNextDue();
  }

  /**
   * The mails of a claimed batch, one after the other. Each outcome is recorded right after its send,
   * but the next send does not wait for that record's commit: the records of mails sent in one turn
   * share one. Once a record has failed (the database is failing), no further mail of the batch goes
   * out: those rows keep their lease until it runs out, as after a crash. Throws the first record's
   * error once every record has ended.
   */
  private async deliverAll(batch: ClaimedNotice[]): Promise<void> {
    // the batch's recipients in one go (on PostgreSQL one statement: the reads are asked together)
    const users = await Promise.all(batch.map((n) => this.users.findUser(n.userId)));
    const records: Promise<void>[] = [];
    let recordFailed = false;
    for (const [i, n] of batch.entries()) {
      if (this.stopped) {
        records.push(...batch.slice(i).map((left) => this.repo.retryLater(left, 0)));
        break;
      }
      if (recordFailed) break;
      const { recorded } = await this.deliver(n, users[i]);
      recorded.catch(() => (recordFailed = true));
      records.push(recorded);
    }
    const failed = (await Promise.allSettled(records)).find(
      (o): o is PromiseRejectedResult => o.status === 'rejected',
    );
    if (failed) throw failed.reason;
  }

  /**
   * Sends one claimed notice to `user` (read when the batch was claimed); answers once the mail is
   * out (or refused), with the record of its outcome – the row's settle or retry, then its log line –
   * under way.
   */
  private async deliver(n: ClaimedNotice, user: UserView | undefined): Promise<{ recorded: Promise<void> }> {
    const log = { kind: n.kind, outboxId: n.id };
    if (!user || user.type !== 'human' || !user.email || !user.emailVerified) {
      return record(this.repo.settle(n, 'SKIPPED', Date.now()), () =>
        this.logger.log(log, 'notification skipped: no verified email address'),
      );
    }
    const remaining = n.payload?.remaining;
    const content = renderNotice(
      {
        kind: n.kind as NotificationKind,
        factor: factorOf(n.eventType),
        at: n.createdAt,
        remaining: typeof remaining === 'number' ? remaining : undefined,
      },
      languageOf(user.preferredLanguage),
    );
    try {
      await this.mail.sendNotice({
        to: user.email,
        ...content,
        messageId: `<notification.${n.id}.${n.createdAt}@${this.config.instance.domain}>`,
        ref: log,
      });
    } catch (e) {
      const errorCode = e instanceof MailDeliveryError ? e.detail.errorCode : undefined;
      const responseCode = e instanceof MailDeliveryError ? e.detail.responseCode : undefined;
      if (n.attempts >= this.config.notify.maxAttempts) {
        return record(this.repo.settle(n, 'FAILED', Date.now()), () =>
          this.logger.error(
            { ...log, attempt: n.attempts, errorCode, responseCode },
            'notification given up',
          ),
        );
      }
      const delay = backoffMs(n.attempts, this.config.notify.retryBaseMs, this.config.notify.retryMaxMs);
      return record(this.repo.retryLater(n, Date.now() + delay), () =>
        this.logger.warn(
          { ...log, attempt: n.attempts, errorCode, responseCode, retryInMs: delay },
          'notification not sent, will retry',
        ),
      );
    }
    return record(this.repo.settle(n, 'SENT', Date.now()), (kept) => {
      if (kept) this.logger.log(log, 'notification sent');
      else this.logger.warn(log, 'notification sent after its claim ran out (it may be sent twice)');
    });
  }

  /** A timer for the next retry (or lease expiry), so retries need no poll. */
  private async armForNextDue(): Promise<void> {
    const due = await this.repo.nextDue();
    clearTimeout(this.dueTimer);
    if (due === undefined || this.stopped) return;
    this.dueTimer = setTimeout(() => this.wake(), Math.max(due - Date.now(), MIN_REARM_MS));
    this.dueTimer.unref();
  }
}

/**
 * A write under way and what follows it. Its failure is marked handled at once: it is awaited only
 * once the batch's sends are over, and must not count as an unhandled rejection meanwhile.
 */
function record<T>(write: Promise<T>, then: (result: T) => void): { recorded: Promise<void> } {
  const recorded = write.then(then);
  recorded.catch(() => undefined);
  return { recorded };
}
