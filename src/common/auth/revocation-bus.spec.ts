import { parseRevocation, revocationChannel } from './revocation-bus';

describe('revocation notifications', () => {
  it('give every schema a channel of its own, a valid identifier however long the schema name', () => {
    const long = 'x'.repeat(63);
    const names = [undefined, 'public', 't_1_ab', 't_1_ac', long, 'Ünïcode "schema"'].map(revocationChannel);
    expect(names[0]).toBe(names[1]); // no schema configured = the server's public
    expect(new Set(names).size).toBe(names.length - 1);
    for (const n of names) expect(n).toMatch(/^[a-z0-9_]{1,63}$/);
  });

  it('read a user id and an optional token id, and nothing else', () => {
    expect(parseRevocation('{"userId":"1"}')).toEqual({ userId: '1' });
    expect(parseRevocation('{"userId":"1","tokenId":"2","x":3}')).toEqual({ userId: '1', tokenId: '2' });
    for (const bad of [
      undefined,
      '',
      'null',
      '[]',
      '"1"',
      '{',
      '{"userId":1}',
      '{"tokenId":"2"}',
      '{"userId":"1","tokenId":2}',
    ]) {
      expect(parseRevocation(bad)).toBeUndefined();
    }
  });
});
