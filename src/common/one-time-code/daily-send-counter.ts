import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { dialectOf, rawQuery } from '../database/db-dialect';

const DAY_MS = 86_400_000;

/** Today's count, one more unless `$3` were counted already: RETURNING says whether it was counted. */
const UPSERT = `INSERT INTO sms_daily_counters (number_hash, day, count) VALUES ($1, $2, 1)
  ON CONFLICT (number_hash, day) DO UPDATE SET count = sms_daily_counters.count + 1
  WHERE sms_daily_counters.count < $3
  RETURNING count`;
/** The destination's counters of earlier days go first (they only keep the table small). */
const FORGET_EARLIER_DAYS = `DELETE FROM sms_daily_counters WHERE number_hash = $1 AND day < $2`;
/**
 * PostgreSQL: both in one statement, one round trip (the DELETE as a data-modifying CTE; it touches
 * other rows than the upsert). SQLite: two statements on the transaction, which cost no round trip.
 */
const COUNT_POSTGRES = `WITH earlier AS (${FORGET_EARLIER_DAYS}) ${UPSERT}`;

/** The CodeHasher context of a phone number's keyed hash: the key of its daily message counter. */
export const SMS_NUMBER_HASH_CONTEXT = 'otp-sms:number';

/**
 * Messages per destination and UTC day, shared by every sender of codes to phone numbers, so all
 * routes that text a number draw on one budget. Keyed by a keyed hash of the destination (the table
 * holds no numbers); one conditional upsert, atomic on both dialects.
 */
@Injectable()
export class DailySendCounter {
  /**
   * Counts one message to `destinationHash` today unless `limit` were counted already. Returns
   * undefined when counted, else the seconds until the next UTC day (for Retry-After).
   */
  async count(
    em: EntityManager,
    destinationHash: string,
    now: number,
    limit: number,
  ): Promise<number | undefined> {
    const day = Math.floor(now / DAY_MS);
    const params = [destinationHash, day, limit];
    const postgres = dialectOf(em) === 'postgres';
    if (!postgres) await rawQuery(em, FORGET_EARLIER_DAYS, params.slice(0, 2));
    const { rows } = await rawQuery(em, postgres ? COUNT_POSTGRES : UPSERT, params);
    return rows.length === 1 ? undefined : ((day + 1) * DAY_MS - now) / 1000;
  }
}
