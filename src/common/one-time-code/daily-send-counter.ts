import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { dialectOf, rawQuery } from '../database/db-dialect';

const DAY_MS = 86_400_000;

/** One more message today, unless `limit` were counted already: RETURNING says whether it was counted. */
const countOneMore = (
  limit: string,
) => `ON CONFLICT (number_hash, day) DO UPDATE SET count = sms_daily_counters.count + 1
  WHERE sms_daily_counters.count < ${limit}
  RETURNING count`;
/** Today's count of `$1`, one more unless `$3` were counted already. */
const UPSERT = `INSERT INTO sms_daily_counters (number_hash, day, count) VALUES ($1, $2, 1) ${countOneMore('$3')}`;
/** The destination's counters of earlier days go first (they only keep the table small). */
const FORGET_EARLIER_DAYS = `DELETE FROM sms_daily_counters WHERE number_hash = $1 AND day < $2`;
/**
 * PostgreSQL: both in one statement, one round trip (the DELETE as a data-modifying CTE; it touches
 * other rows than the upsert). SQLite: two statements on the transaction, which cost no round trip.
 */
const COUNT_POSTGRES = `WITH earlier AS (${FORGET_EARLIER_DAYS}) ${UPSERT}`;

/** The UTC day of `now`, as the counters key it. */
export const dayOf = (now: number) => Math.floor(now / DAY_MS);

/** Seconds from `now` until the next UTC day, when a destination over its limit may be texted again. */
export const secondsUntilNextDay = (now: number) => ((dayOf(now) + 1) * DAY_MS - now) / 1000;

/**
 * PostgreSQL: the counting as two common table expressions, for the destination whose hash is in the
 * `number_hash` column of `source` (a CTE of the caller's statement, one row or none): `earlier`
 * forgets its counters of earlier days, `counted` counts one message today and returns a row when it
 * counted (none when the limit was reached, or `source` is empty). `day` and `limit` are the
 * statement's placeholders of dayOf(now) and the limit. A claim and its count in one statement are one
 * round trip instead of a transaction's four.
 */
export function dailyCountCtes(source: string, day: string, limit: string): string {
  return `earlier AS (
    DELETE FROM sms_daily_counters WHERE number_hash IN (SELECT number_hash FROM ${source}) AND day < ${day}::integer
  ), counted AS (
    INSERT INTO sms_daily_counters (number_hash, day, count)
    SELECT number_hash, ${day}::integer, 1 FROM ${source}
    ${countOneMore(`${limit}::integer`)}
  )`;
}

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
    const params = [destinationHash, dayOf(now), limit];
    const postgres = dialectOf(em) === 'postgres';
    if (!postgres) await rawQuery(em, FORGET_EARLIER_DAYS, params.slice(0, 2));
    const { rows } = await rawQuery(em, postgres ? COUNT_POSTGRES : UPSERT, params);
    return rows.length === 1 ? undefined : secondsUntilNextDay(now);
  }
}
