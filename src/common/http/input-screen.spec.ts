import {
  JSON_MAX_DEPTH,
  screenContentEncoding,
  screenJsonBody,
  screenRequestHead,
  screenRequestTarget,
} from './input-screen';

const nested = (depth: number): unknown => {
  let v: unknown = 'leaf';
  for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { a: v };
  return v;
};

describe('input screen', () => {
  describe('Content-Encoding', () => {
    it('accepts none, identity (any case, repeated) and an empty header', () => {
      for (const h of [undefined, 'identity', 'IDENTITY', 'identity, identity', '', ['identity']]) {
        expect(screenContentEncoding(h)).toBeUndefined();
      }
    });

    it('refuses every other coding with 415 and Accept-Encoding: identity', () => {
      for (const h of ['gzip', 'deflate', 'br', 'x-gzip', 'identity, gzip', ['identity', 'br'], 'zstd']) {
        const err = screenContentEncoding(h);
        expect(err?.status).toBe(415);
        expect(err?.options.headers).toEqual({ 'Accept-Encoding': 'identity' });
      }
    });
  });

  describe('request target', () => {
    it('accepts ordinary paths and queries, and an encoded percent sign before 00', () => {
      for (const url of ['/', '/v2/users/1/totp', '/a%20b?x=%25&y=1', '/a%2500', '/x?q=%2500'])
        expect(screenRequestTarget(url)).toBeUndefined();
    });

    it('refuses NUL in the path or the query', () => {
      for (const url of ['/v2/users/%00/totp', '/a?b=%00', '/a?b=x%00y']) {
        expect(screenRequestTarget(url)?.message).toBe(
          'invalid request: the path or query holds a NUL character',
        );
      }
    });

    it('refuses a path that does not percent-decode (the query is the route’s business)', () => {
      expect(screenRequestTarget('/v2/users/%E0%A4%A/totp')?.message).toBe(
        'invalid request: malformed percent-encoding in the path',
      );
      expect(screenRequestTarget('/v2/users/100%/totp')?.status).toBe(400);
      expect(screenRequestTarget('/v2/users/1?q=%E0%A4%A')).toBeUndefined();
    });

    it('screenRequestHead checks both', () => {
      expect(screenRequestHead({ url: '/a', headers: { 'content-encoding': 'gzip' } })?.status).toBe(415);
      expect(screenRequestHead({ url: '/a%00', headers: {} })?.status).toBe(400);
      expect(screenRequestHead({ url: '/a', headers: {} })).toBeUndefined();
    });
  });

  describe('JSON bodies', () => {
    it(`accepts ${JSON_MAX_DEPTH} levels of objects and arrays, refuses ${JSON_MAX_DEPTH + 1}`, () => {
      expect(JSON_MAX_DEPTH).toBe(32);
      expect(screenJsonBody(nested(JSON_MAX_DEPTH))).toBeUndefined();
      expect(screenJsonBody(nested(JSON_MAX_DEPTH + 1))?.message).toBe(
        'invalid request: JSON nested deeper than 32 levels',
      );
    });

    it('walks 100,000 levels without exhausting the stack', () => {
      const deep = JSON.parse('['.repeat(100_000) + ']'.repeat(100_000)) as unknown;
      expect(screenJsonBody(deep)?.status).toBe(400);
    });

    it('accepts scalars, empty containers and ordinary bodies', () => {
      for (const body of [
        undefined,
        null,
        1,
        true,
        'code',
        {},
        [],
        { code: '123456', context: { a: [1, 'x', null] } },
      ]) {
        expect(screenJsonBody(body)).toBeUndefined();
      }
    });

    it('refuses NUL in a string at any depth, naming the field', () => {
      const err = screenJsonBody({ userId: '1', context: { list: [{ note: 'a\u0000b' }] } });
      expect(err?.message).toBe('invalid request: context.list.0.note must not hold a NUL character');
      expect(err?.options.fieldErrors).toEqual([
        { field: 'context.list.0.note', message: 'value must not hold a NUL character' },
      ]);
      expect(screenJsonBody('12\u000034')?.message).toBe(
        'invalid request: the body must not hold a NUL character',
      );
    });

    it('refuses NUL in a key without quoting the key', () => {
      const err = screenJsonBody({ ctx: { 'a\u0000': 1 } });
      expect(err?.message).toBe('invalid request: keys of ctx must not hold a NUL character');
      expect(err?.options.fieldErrors).toEqual([
        { field: 'ctx', message: 'keys must not hold a NUL character' },
      ]);
      expect(screenJsonBody({ '\u0000': 1 })?.message).toBe(
        'invalid request: keys of the body must not hold a NUL character',
      );
    });

    it('too deep wins over NUL: that is what the client must fix first', () => {
      expect(screenJsonBody({ a: 'x\u0000', b: nested(40) })?.message).toBe(
        'invalid request: JSON nested deeper than 32 levels',
      );
    });
  });
});
