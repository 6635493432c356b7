import { DataSource } from 'typeorm';
import { rawQuery } from '../../src/common/database/db-dialect';
import { TestApp } from './test-app';

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** The `details` of a change answer of the v2 APIs. */
export const CHANGE_DETAILS = {
  sequence: expect.stringMatching(/^\d+$/),
  changeDate: expect.stringMatching(ISO),
  resourceOwner: expect.stringMatching(/^\d{18}$/),
};
/** The `details` of a create answer: a change with its creation date. */
export const CREATE_DETAILS = { ...CHANGE_DETAILS, creationDate: expect.stringMatching(ISO) };

/** The `n` of a `SELECT COUNT(*) AS n …` on the app's database. */
export async function count(t: TestApp, sql: string, params: unknown[]): Promise<number> {
  const { rows } = await rawQuery<{ n: number | string }>(t.app.get(DataSource), sql, params);
  return Number(rows[0].n);
}
