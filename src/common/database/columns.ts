import { Column, ColumnOptions } from 'typeorm';

/**
 * Portable column helpers: one entity set for SQLite and PostgreSQL.
 * Instants are epoch milliseconds in a BIGINT (node-pg returns BIGINT as a string; the transformer
 * turns it back into a number on both drivers), which keeps comparisons in conditional UPDATEs exact.
 */
export const epochMs = {
  to: (v: number | null | undefined) => v,
  from: (v: string | number | null) => (v === null || v === undefined ? v : Number(v)),
};

export function InstantColumn(options: Omit<ColumnOptions, 'type' | 'transformer'> = {}): PropertyDecorator {
  return Column({ type: 'bigint', transformer: epochMs, ...options });
}

/** Ids are 18-digit decimal strings. */
export function IdColumn(options: Omit<ColumnOptions, 'type' | 'length'> = {}): PropertyDecorator {
  return Column({ type: 'varchar', length: 20, ...options });
}

export function JsonTextColumn(options: Omit<ColumnOptions, 'type' | 'transformer'> = {}): PropertyDecorator {
  return Column({
    type: 'text',
    transformer: {
      to: (v: unknown) => (v === undefined ? undefined : v === null ? null : JSON.stringify(v)),
      from: (v: string | null) => (v === null || v === undefined ? v : (JSON.parse(v) as unknown)),
    },
    ...options,
  });
}

/** A nullable BIGINT column as read with rawQuery (node-pg returns BIGINT as a string, SQLite a number). */
export const numOrNull = (v: number | string | null): number | null => (v === null ? null : Number(v));
