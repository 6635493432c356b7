import { Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { Client } from 'pg';
import { EntityManager } from 'typeorm';
import { AppConfig } from '../config/app-config';
import { rawQuery } from '../database/db-dialect';
import { TokenVerifier } from './token-verifier';

/** What a change revokes: every cached principal of a user, or the principal of one token. */
export type Revocation = { userId: string; tokenId?: string };

/** First pause before reconnecting a lost listener; it doubles on every failed try up to the maximum. */
export const RECONNECT_MIN_MS = 100;
export const RECONNECT_MAX_MS = 10_000;
/** How often the listener proves its connection alive (a dead peer is otherwise noticed only by TCP). */
const HEARTBEAT_MS = 5_000;

/**
 * The PostgreSQL channel of one database schema. Notifications are per database, so the schema in the
 * name keeps services (and test runs) in different schemas of one database apart; hashed, because a
 * channel name is an identifier of at most 63 bytes and a schema name may be that long itself.
 */
export function revocationChannel(schema: string | undefined): string {
  return `mfa_revocations_${createHash('sha256')
    .update(schema ?? 'public', 'utf8')
    .digest('hex')
    .slice(0, 16)}`;
}

/** The payload, or undefined for anything that is not one (never trusted beyond two id strings). */
export function parseRevocation(payload: string | undefined): Revocation | undefined {
  if (!payload) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(payload);
  } catch {
    return undefined;
  }
  const r = v as { userId?: unknown; tokenId?: unknown };
  if (typeof v !== 'object' || v === null || typeof r.userId !== 'string') return undefined;
  if (r.tokenId !== undefined && typeof r.tokenId !== 'string') return undefined;
  return r.tokenId === undefined ? { userId: r.userId } : { userId: r.userId, tokenId: r.tokenId };
}

/**
 * Revocations that reach the token cache of every instance sharing the database.
 *
 * `publish` is called inside the transaction that makes the change: on PostgreSQL it queues a NOTIFY,
 * which the server delivers only when that transaction commits (a rolled-back change tells nobody).
 * Every instance LISTENs on a connection of its own, outside the pool, and drops the affected cache
 * entries when a notification arrives, including its own (the changing instance has already dropped
 * them locally). A lost listener connection is re-established with growing pauses; while it is down,
 * cached principals live at most TOKEN_CACHE_SECONDS, as without this bus, and after every (re)connect
 * the whole cache is dropped once, since notifications may have been missed meanwhile.
 *
 * On SQLite there is one instance per database file: nothing is sent, the local invalidation suffices.
 */
@Injectable()
export class RevocationBus implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('Revocations');
  private readonly channel?: string;
  private client?: Client;
  private retryTimer?: NodeJS.Timeout;
  private heartbeat?: NodeJS.Timeout;
  private failures = 0;
  private stopped = false;

  constructor(
    private readonly config: AppConfig,
    private readonly tokens: TokenVerifier,
  ) {
    const db = config.database;
    if (db.type === 'postgres') this.channel = revocationChannel(db.schema);
  }

  /** Whether notifications currently arrive (always false on SQLite, where none are needed). */
  get listening(): boolean {
    return this.client !== undefined;
  }

  /** Tell every instance, when the transaction of `em` commits, that `revocation` happened. */
  async publish(em: EntityManager, revocation: Revocation): Promise<void> {
    if (!this.channel) return;
    await rawQuery(em, 'SELECT pg_notify($1, $2)', [this.channel, JSON.stringify(revocation)]);
  }

  async onApplicationBootstrap(): Promise<void> {
    if (this.channel) await this.connect();
  }

  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.heartbeat);
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    const db = this.config.database;
    if (db.type !== 'postgres' || this.stopped) return;
    const client = new Client({
      connectionString: db.url,
      application_name: 'mfa-revocations',
      keepAlive: true,
      ...(db.bounds
        ? { connectionTimeoutMillis: db.bounds.connectTimeoutMs, query_timeout: db.bounds.statementTimeoutMs }
        : {}),
    });
    let lost = false;
    const onLost = (reason: string) => {
      if (lost) return;
      lost = true;
      if (this.client === client) this.client = undefined;
      clearInterval(this.heartbeat);
      client.removeAllListeners('notification');
      void client.end().catch(() => undefined);
      if (!this.stopped) this.retry(reason);
    };
    client.on('error', (e) => onLost(e.message));
    client.on('end', () => onLost('connection ended'));
    client.on('notification', (n) => {
      if (n.channel !== this.channel) return;
      const r = parseRevocation(n.payload);
      if (!r) return;
      if (r.tokenId !== undefined) this.tokens.invalidateToken(r.tokenId);
      else this.tokens.invalidateUser(r.userId);
    });
    try {
      await client.connect();
      await client.query(`LISTEN "${this.channel}"`);
    } catch (e) {
      onLost(e instanceof Error ? e.message : String(e));
      return;
    }
    if (lost) return;
    if (this.stopped) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    // Changes made while nobody listened here were not heard: start from an empty cache.
    this.tokens.invalidateAll();
    if (this.failures > 0)
      this.logger.log(`listening for revocations again after ${this.failures} failed attempt(s)`);
    else this.logger.log('listening for revocations');
    this.failures = 0;
    // Repeating LISTEN is a no-op for the server and a cheap proof that the connection still answers.
    this.heartbeat = setInterval(() => {
      client
        .query(`LISTEN "${this.channel}"`)
        .catch((e: unknown) => onLost(e instanceof Error ? e.message : String(e)));
    }, HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  private retry(reason: string): void {
    const delay = Math.min(RECONNECT_MAX_MS, RECONNECT_MIN_MS * 2 ** this.failures);
    this.failures++;
    this.logger.warn(
      `revocation listener lost (${reason}); cached tokens now expire after TOKEN_CACHE_SECONDS; reconnecting in ${delay} ms`,
    );
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => void this.connect(), delay * (0.75 + Math.random() * 0.5));
    this.retryTimer.unref();
  }
}
