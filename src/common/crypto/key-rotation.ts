import { Injectable, OnModuleInit } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AppConfig, ConfigError } from '../config/app-config';
import { Dialect, dialectOf, isUniqueViolation, rawQuery } from '../database/db-dialect';
import { stepUpContextAad } from '../../email-challenge/entities/email-challenge-context.entity';
import { NUMBER_HASH_CONTEXT } from '../../otp-sms/entities/otp-sms-authenticator.entity';
import { CodeHasher } from './code-hasher';
import { SecretBox, SEALED_PREFIX } from './secret-box';

/**
 * A column holding SecretBox values: its table, primary key, the associated data each value was
 * sealed with, and what else must change with the key (a keyed hash of the same plaintext).
 */
export interface SealedColumn {
  table: string;
  key: string;
  column: string;
  aad(key: string): string;
  /** Further columns rewritten in the same conditional UPDATE, computed from the plaintext. */
  alongside?(plaintext: string, hasher: CodeHasher): Record<string, string>;
}

/** Every value sealed at rest. A new `SecretBox.seal` use belongs here, or rotation leaves it behind. */
export const SEALED_COLUMNS: readonly SealedColumn[] = [
  { table: 'totp_factors', key: 'user_id', column: 'secret_sealed', aad: (userId) => userId },
  {
    table: 'otp_sms_authenticators',
    key: 'id',
    column: 'number_sealed',
    aad: (id) => id,
    // The number's keyed hash identifies it (one authenticator per number and user): it moves to the new key too.
    alongside: (number, hasher) => ({ number_hash: hasher.hash(number, NUMBER_HASH_CONTEXT) }),
  },
  { table: 'email_challenge_contexts', key: 'challenge_id', column: 'context', aad: stepUpContextAad },
];

export interface TableRotation {
  table: string;
  /** Rows read that were sealed under another key. */
  scanned: number;
  resealed: number;
  /** Rows changed by someone else between our read and our update (the change wins; retried later). */
  raced: number;
  /** Rows that cannot be opened with the configured keys (their key ids are in `unreadableKeyIds`). */
  unreadable: number;
  unreadableKeyIds: string[];
  /** Rows still sealed under another key when the run ended. */
  remaining: number;
}

export interface RotationOptions {
  /** Rows read and rewritten per batch (default 500). */
  batchSize?: number;
  /** Stop after this many batches in all (an interrupted run); the next run carries on. */
  maxBatches?: number;
  /** Full passes over a table while rows keep racing with other writers (default 5). */
  maxPasses?: number;
}

/**
 * Re-seals every value sealed under an older key id under the current MASTER_KEY / MASTER_KEY_ID.
 * Safe while the service runs: rows are read in primary-key order, a batch at a time, and each is
 * written with `UPDATE … WHERE key = $id AND column = <the ciphertext read>`, so a concurrent change wins
 * and its row is read again by a later pass. Idempotent and resumable: only rows under another key are
 * read, so a run after an interrupted one carries on where it stopped.
 */
export async function rotateKeys(
  ds: DataSource,
  box: SecretBox,
  hasher: CodeHasher,
  options: RotationOptions = {},
): Promise<TableRotation[]> {
  const batchSize = options.batchSize ?? 500;
  let batchesLeft = options.maxBatches ?? Infinity;
  const maxPasses = options.maxPasses ?? 5;
  const current = `${SEALED_PREFIX}${box.currentKeyId}.`;
  const report: TableRotation[] = [];
  for (const col of SEALED_COLUMNS) {
    const r: TableRotation = {
      table: col.table,
      scanned: 0,
      resealed: 0,
      raced: 0,
      unreadable: 0,
      unreadableKeyIds: [],
      remaining: 0,
    };
    report.push(r);
    for (let pass = 0; pass < maxPasses && batchesLeft > 0; pass++) {
      let after = '';
      let racedThisPass = 0;
      for (;;) {
        if (batchesLeft <= 0) break;
        batchesLeft--;
        const { rows } = await rawQuery<{ k: string; v: string }>(
          ds,
          `SELECT ${col.key} AS k, ${col.column} AS v FROM ${col.table}
            WHERE ${col.key} > $1 AND substr(${col.column}, 1, $2) = $3 AND substr(${col.column}, 1, $4) <> $5
            ORDER BY ${col.key} LIMIT ${batchSize}`,
          [after, SEALED_PREFIX.length, SEALED_PREFIX, current.length, current],
        );
        for (const row of rows) {
          after = row.k;
          r.scanned++;
          let plaintext: string;
          try {
            plaintext = box.open(row.v, col.aad(row.k));
          } catch {
            r.unreadable++;
            const id = keyIdOf(row.v);
            if (!r.unreadableKeyIds.includes(id)) r.unreadableKeyIds.push(id);
            continue;
          }
          const set = {
            [col.column]: box.seal(plaintext, col.aad(row.k)),
            ...(col.alongside?.(plaintext, hasher) ?? {}),
          };
          const names = Object.keys(set);
          const assignments = names.map((n, i) => `${n} = $${i + 3}`).join(', ');
          let affected: number;
          try {
            ({ affected } = await rawQuery(
              ds,
              `UPDATE ${col.table} SET ${assignments} WHERE ${col.key} = $1 AND ${col.column} = $2`,
              [row.k, row.v, ...names.map((n) => set[n])],
            ));
          } catch (e) {
            // Another row already holds the new hash (the same number added again meanwhile): leave this one.
            if (!isUniqueViolation(e)) throw e;
            affected = 0;
          }
          if (affected === 1) r.resealed++;
          else racedThisPass++;
        }
        if (rows.length < batchSize) break;
      }
      r.raced += racedThisPass;
      if (racedThisPass === 0) break;
    }
    const { rows } = await rawQuery<{ n: number | string }>(
      ds,
      `SELECT count(*) AS n FROM ${col.table} WHERE substr(${col.column}, 1, $1) = $2 AND substr(${col.column}, 1, $3) <> $4`,
      [SEALED_PREFIX.length, SEALED_PREFIX, current.length, current],
    );
    r.remaining = Number(rows[0].n);
  }
  return report;
}

/** One line per table, for the operator (counts and key ids only). */
export function formatRotation(report: TableRotation[]): string {
  return report
    .map(
      (r) =>
        `${r.table}: scanned ${r.scanned}, re-sealed ${r.resealed}, raced ${r.raced} (left for the next run or pass), ` +
        `unreadable ${r.unreadable}${r.unreadableKeyIds.length ? ` (key ${r.unreadableKeyIds.join(', ')})` : ''}, remaining ${r.remaining}`,
    )
    .join('\n');
}

/** The key id a sealed value names (`v1.<keyId>.…`). */
function keyIdOf(sealed: string): string {
  return sealed.slice(SEALED_PREFIX.length).split('.')[0];
}

/** SQL for the key id of a sealed value in `column` (the text between the first and second dot). */
function keyIdSql(dialect: Dialect, column: string): string {
  return dialect === 'postgres'
    ? `split_part(${column}, '.', 2)`
    : `substr(${column}, 4, instr(substr(${column}, 4), '.') - 1)`;
}

/** Stored values sealed under key ids the configuration lacks: count per key id, then per table. */
export async function missingKeys(
  ds: DataSource,
  knownKeyIds: string[],
): Promise<Map<string, Map<string, number>>> {
  const dialect = dialectOf(ds);
  const missing = new Map<string, Map<string, number>>();
  const known = knownKeyIds.map((_, i) => `$${i + 3}`).join(', ');
  for (const col of SEALED_COLUMNS) {
    const kid = keyIdSql(dialect, col.column);
    const { rows } = await rawQuery<{ kid: string; n: number | string }>(
      ds,
      `SELECT ${kid} AS kid, count(*) AS n FROM ${col.table}
        WHERE substr(${col.column}, 1, $1) = $2 AND ${kid} NOT IN (${known}) GROUP BY ${kid}`,
      [SEALED_PREFIX.length, SEALED_PREFIX, ...knownKeyIds],
    );
    for (const row of rows) {
      const perTable = missing.get(row.kid) ?? new Map<string, number>();
      perTable.set(col.table, Number(row.n));
      missing.set(row.kid, perTable);
    }
  }
  return missing;
}

/** A stored value needs a key the configuration lacks: the service must not start (exit code 78). */
export class MissingKeyError extends ConfigError {}

/**
 * Start-up check: refuses to start when a stored value was sealed under a key that is neither
 * MASTER_KEY nor in MASTER_KEYS_OLD (e.g. an old key removed before `npm run keys:rotate` finished),
 * naming each key id and how many values need it. Runs after the migrations.
 */
@Injectable()
export class StoredKeysCheck implements OnModuleInit {
  constructor(
    private readonly ds: DataSource,
    private readonly config: AppConfig,
  ) {}

  async onModuleInit(): Promise<void> {
    const missing = await missingKeys(this.ds, [
      this.config.crypto.keyId,
      ...Object.keys(this.config.crypto.oldKeys),
    ]);
    if (missing.size === 0) return;
    const lines = [...missing].map(([kid, perTable]) => {
      const total = [...perTable.values()].reduce((a, b) => a + b, 0);
      const where = [...perTable].map(([t, n]) => `${n} in ${t}`).join(', ');
      return `  key ${kid}: ${total} stored value${total === 1 ? '' : 's'} (${where})`;
    });
    throw new MissingKeyError(
      `Invalid configuration: stored values are sealed under keys the configuration lacks:\n${lines.join('\n')}\n` +
        `  add them to MASTER_KEYS_OLD (<keyId>:<base64>), run npm run keys:rotate, then remove them`,
    );
  }
}
