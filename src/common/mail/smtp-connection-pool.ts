import SMTPConnection from 'nodemailer/lib/smtp-connection';

/** How many greeted connections wait for the next mail, for how long, and for how many mails in all. */
export interface SmtpPoolBounds {
  /** 0 = nothing is kept: every connection is quit after its mail. */
  maxIdle: number;
  idleMs: number;
  maxMessages: number;
}

/** One SMTP connection and what the pool knows about it. */
export class PooledConnection {
  /** Mails this connection has handed over (confirmed by the relay). */
  sent = 0;
  /** Receives the connection's errors while a send uses it; an idle connection's error only ends it. */
  onError: ((err: Error) => void) | undefined;
  idleTimer: NodeJS.Timeout | undefined;

  constructor(readonly conn: SMTPConnection) {}
}

/**
 * Idle SMTP connections of one sender, already greeted (EHLO, STARTTLS) and logged in, so that the
 * next mail skips the handshake. The pool only holds idle connections: a connection in use belongs
 * to its send, which either gives it back after a confirmed mail (`release`) or closes it. A
 * connection that ended while idle (the relay's own idle timeout, a socket error) leaves the pool
 * by itself. Idle sockets and timers are unref'd: a kept connection never keeps the process alive.
 */
export class SmtpConnectionPool {
  /** Oldest first; `take` hands out the most recently used one, the least likely to be dropped by now. */
  private idle: PooledConnection[] = [];
  private closed = false;

  constructor(
    private readonly options: SMTPConnection.Options,
    private readonly auth: SMTPConnection.AuthenticationType | undefined,
    private readonly bounds: SmtpPoolBounds,
  ) {}

  /** Idle connections right now (for tests and the benchmark). */
  get idleCount(): number {
    return this.idle.length;
  }

  /** An idle connection, or undefined when none is left. */
  take(): PooledConnection | undefined {
    for (let entry = this.idle.pop(); entry; entry = this.idle.pop()) {
      clearTimeout(entry.idleTimer);
      if (entry.conn.destroyed) continue;
      socketOf(entry)?.ref();
      return entry;
    }
    return undefined;
  }

  /** A new connection, not connected yet; `greet` connects it. */
  create(): PooledConnection {
    const entry = new PooledConnection(new SMTPConnection(this.options));
    // Without a listener an 'error' event would be thrown; nodemailer closes the connection after it.
    entry.conn.on('error', (err: Error) => entry.onError?.(err));
    entry.conn.once('end', () => this.forget(entry));
    return entry;
  }

  /** Connects, says EHLO (and STARTTLS where it applies) and logs in when the URL names a user. */
  greet(entry: PooledConnection, done: (err?: Error) => void): void {
    entry.conn.connect((err) => {
      if (err) return done(err);
      if (!this.auth) return done();
      entry.conn.login(this.auth, (loginErr) => done(loginErr ?? undefined));
    });
  }

  /**
   * Takes back a connection whose mail the relay has just confirmed. It is kept unless it has sent
   * its share of mails, the pool is full or closed; otherwise it quits. A connection that errored,
   * or whose send ran out of time, must never come here: close it.
   */
  release(entry: PooledConnection): void {
    entry.onError = undefined;
    entry.sent++;
    const { maxIdle, idleMs, maxMessages } = this.bounds;
    if (entry.conn.destroyed) return;
    if (this.closed || entry.sent >= maxMessages || this.idle.length >= maxIdle) {
      entry.conn.quit();
      return;
    }
    entry.idleTimer = setTimeout(() => {
      this.forget(entry);
      entry.conn.quit();
    }, idleMs);
    entry.idleTimer.unref();
    socketOf(entry)?.unref();
    this.idle.push(entry);
  }

  /**
   * Quits every idle connection: used when a kept connection turned out to be dropped by the relay
   * (the others have waited at least as long).
   */
  discardIdle(): void {
    for (const entry of this.idle.splice(0)) {
      clearTimeout(entry.idleTimer);
      entry.conn.quit();
    }
  }

  /**
   * At shutdown: keeps nothing from now on and quits the idle connections; resolves once they have
   * ended (closed without waiting when the relay does not answer QUIT within a second).
   */
  async close(): Promise<void> {
    this.closed = true;
    const ending = this.idle.splice(0).map(
      (entry) =>
        new Promise<void>((resolve) => {
          clearTimeout(entry.idleTimer);
          if (entry.conn.destroyed) return resolve();
          entry.conn.once('end', () => resolve());
          // held until it has ended, so that the rest of the shutdown still runs
          socketOf(entry)?.ref();
          entry.conn.quit();
          setTimeout(() => entry.conn.close(), 1000).unref();
        }),
    );
    await Promise.all(ending);
  }

  private forget(entry: PooledConnection): void {
    clearTimeout(entry.idleTimer);
    const i = this.idle.indexOf(entry);
    if (i >= 0) this.idle.splice(i, 1);
  }
}

/** The connection's socket (the TLS one after STARTTLS), to (un)ref it. */
function socketOf(entry: PooledConnection): { ref(): unknown; unref(): unknown } | undefined {
  return entry.conn._socket || undefined;
}
