import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * Messages sent per destination number and UTC day. Keyed by the keyed hash of the number, so the
 * table holds no phone numbers. Incremented with one conditional upsert (atomic on both dialects).
 */
@Entity({ name: 'sms_daily_counters' })
export class SmsDailyCounterEntity {
  @PrimaryColumn({ type: 'varchar', length: 64, name: 'number_hash' })
  numberHash: string;

  /** Days since 1970-01-01 (UTC). */
  @PrimaryColumn({ type: 'integer' })
  day: number;

  @Column({ type: 'integer' })
  count: number;
}
