import { mayBeOneRowsFault } from './pg-errors';

describe('mayBeOneRowsFault', () => {
  const pg = (code: string) => Object.assign(new Error('x'), { code });

  it('errors about what a statement held may be one row’s fault', () => {
    // invalid byte sequence (a NUL), value too long, unique violation, deadlock, bad text for a type
    for (const code of ['22021', '22001', '23505', '40P01', '22P02'])
      expect(mayBeOneRowsFault(pg(code))).toBe(true);
  });

  it('an unavailable server, a statement timeout or no connection never is', () => {
    for (const code of ['08006', '53300', '57014', '57P01', '58030'])
      expect(mayBeOneRowsFault(pg(code))).toBe(false);
    for (const e of [
      pg('ECONNREFUSED'),
      pg('ETIMEDOUT'),
      new Error('timeout exceeded when trying to connect'),
      undefined,
      null,
      'x',
    ]) {
      expect(mayBeOneRowsFault(e)).toBe(false);
    }
  });
});
