import { AppConfig } from '../config/app-config';
import { DomainError } from '../errors/domain-error';
import { FakeClock } from '../../../test/helpers/fake-clock';
import { AuthDirectory } from './auth-directory';
import { Principal } from './principal';
import { hashToken, TokenVerifier } from './token-verifier';

const T0 = Date.UTC(2026, 0, 1);

class FakeDirectory extends AuthDirectory {
  lookups = 0;
  principals = new Map<string, Principal>();
  /** When set, lookups wait for this promise (to interleave an invalidation). */
  gate?: Promise<void>;
  async principalForTokenHash(hash: string): Promise<Principal | undefined> {
    this.lookups++;
    const found = this.principals.get(hash); // the database read happens here ...
    if (this.gate) await this.gate; // ... the answer travels back later
    return found;
  }
  async principalForUser(): Promise<Principal | undefined> {
    return undefined;
  }
  async orgOfUser(): Promise<string | undefined> {
    return undefined;
  }
}

const principal = (userId: string, expiresAt?: number) =>
  new Principal(userId, '1', 'human', 'pat', [], new Map(), '9', expiresAt);

describe('TokenVerifier', () => {
  let clock: FakeClock;
  let dir: FakeDirectory;
  let verifier: TokenVerifier;
  beforeEach(() => {
    clock = new FakeClock(T0);
    dir = new FakeDirectory();
    verifier = new TokenVerifier(
      { auth: { tokenCacheSeconds: 10, bootstrapPatPath: '' } } as unknown as AppConfig,
      dir,
      clock,
    );
  });

  const failure = async (header: string | undefined) => {
    const e = await verifier.verify(header).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(DomainError);
    const d = e as DomainError;
    return { kind: d.kind, id: d.id, message: d.message, headers: d.options.headers };
  };

  it('tells a missing header, a malformed header and an invalid token apart, each with WWW-Authenticate', async () => {
    const www = { 'WWW-Authenticate': 'Bearer' };
    expect(await failure(undefined)).toEqual({
      kind: 'UNAUTHENTICATED',
      id: undefined,
      message: 'auth header missing',
      headers: www,
    });
    for (const h of ['Basic x', 'Bearer', 'Bearer ', 'Bearer a b', 'Token abc']) {
      expect(await failure(h)).toEqual({
        kind: 'UNAUTHENTICATED',
        id: 'AUTH-toLo1',
        message: 'invalid auth header',
        headers: www,
      });
    }
    expect(await failure('Bearer nope')).toEqual({
      kind: 'UNAUTHENTICATED',
      id: 'AUTH-7fs1e',
      message: 'Token is invalid',
      headers: www,
    });
    expect(await failure(`Bearer ${'x'.repeat(5000)}`)).toMatchObject({ id: 'AUTH-7fs1e' });
    // A JWT-shaped token without OIDC configured is simply invalid.
    expect(await failure('Bearer a.b.c')).toMatchObject({ id: 'AUTH-7fs1e' });
  });

  it('caches a PAT for the TTL: one lookup for many requests, shared by concurrent first requests', async () => {
    dir.principals.set(hashToken('tok'), principal('u1'));
    const all = await Promise.all(Array.from({ length: 20 }, () => verifier.verify('Bearer tok')));
    expect(new Set(all.map((p) => p.userId))).toEqual(new Set(['u1']));
    expect(dir.lookups).toBe(1);
    clock.advance(9_999);
    await verifier.verify('Bearer tok');
    expect(dir.lookups).toBe(1);
    clock.advance(2);
    await verifier.verify('Bearer tok');
    expect(dir.lookups).toBe(2);
  });

  it('never caches a PAT beyond its own expiry', async () => {
    dir.principals.set(hashToken('short'), principal('u1', T0 + 3_000));
    await verifier.verify('Bearer short');
    clock.advance(2_999);
    await verifier.verify('Bearer short');
    expect(dir.lookups).toBe(1);
    clock.advance(1);
    dir.principals.delete(hashToken('short')); // the directory now says "expired"
    expect(await failure('Bearer short')).toMatchObject({ id: 'AUTH-7fs1e' });
  });

  it('drops a user from the cache on invalidation', async () => {
    dir.principals.set(hashToken('a'), principal('u1'));
    dir.principals.set(hashToken('b'), principal('u2'));
    await verifier.verify('Bearer a');
    await verifier.verify('Bearer b');
    dir.principals.delete(hashToken('a'));
    verifier.invalidateUser('u1');
    expect(await failure('Bearer a')).toMatchObject({ id: 'AUTH-7fs1e' });
    await verifier.verify('Bearer b');
    expect(dir.lookups).toBe(3);
  });

  it("drops one token from the cache, keeping the same user's other tokens", async () => {
    dir.principals.set(hashToken('a'), new Principal('u1', '1', 'human', 'pat', [], new Map(), 't1'));
    dir.principals.set(hashToken('b'), new Principal('u1', '1', 'human', 'pat', [], new Map(), 't2'));
    await verifier.verify('Bearer a');
    await verifier.verify('Bearer b');
    dir.principals.delete(hashToken('a'));
    verifier.invalidateToken('t1');
    expect(await failure('Bearer a')).toMatchObject({ id: 'AUTH-7fs1e' });
    await verifier.verify('Bearer b');
    expect(dir.lookups).toBe(3);
  });

  it('does not cache a lookup that raced with an invalidation', async () => {
    dir.principals.set(hashToken('tok'), principal('u1'));
    let open!: () => void;
    dir.gate = new Promise<void>((resolve) => (open = resolve));
    const pending = verifier.verify('Bearer tok'); // reads the old state ...
    await Promise.resolve();
    dir.principals.delete(hashToken('tok')); // ... while the token is revoked
    verifier.invalidateUser('u1');
    dir.gate = undefined;
    open();
    await pending; // the in-flight request may still pass (it started before the revocation) ...
    expect(await failure('Bearer tok')).toMatchObject({ id: 'AUTH-7fs1e' }); // ... the next one may not
  });
});

describe('Principal', () => {
  const p = (instance: string[], orgs: [string, string[]][]) =>
    new Principal('u', 'o', 'human', 'pat', instance as never, new Map(orgs) as never);

  it('applies instance roles to every organisation and organisation roles to their own', () => {
    const owner = p([], [['A', ['ORG_OWNER']]]);
    expect(owner.can('user.credential.write', 'A')).toBe(true);
    expect(owner.can('user.credential.write', 'B')).toBe(false);
    expect(owner.canOnInstance('user.read')).toBe(false);
    const manager = p([], [['A', ['ORG_USER_MANAGER']]]);
    expect(manager.can('user.write', 'A')).toBe(true);
    expect(manager.can('user.credential.write', 'A')).toBe(false);
    const iam = p(['IAM_OWNER'], []);
    expect(iam.can('user.credential.write', 'anything')).toBe(true);
    expect(p(['MFA_CHALLENGE_ISSUER'], []).canOnInstance('mfa.challenge.write')).toBe(true);
    expect(p(['MFA_CHALLENGE_ISSUER'], []).can('user.read', 'A')).toBe(false);
  });

  it('covers another principal only when it holds all of its rights on the same scopes', () => {
    const none = p([], []);
    const ownerA = p([], [['A', ['ORG_OWNER']]]);
    const managerA = p([], [['A', ['ORG_USER_MANAGER']]]);
    const iamOwner = p(['IAM_OWNER'], []);
    expect(managerA.covers(none)).toBe(true);
    expect(managerA.covers(ownerA)).toBe(false);
    expect(ownerA.covers(managerA)).toBe(true);
    expect(ownerA.covers(p([], [['B', ['ORG_USER_MANAGER']]]))).toBe(false);
    expect(ownerA.covers(iamOwner)).toBe(false);
    expect(iamOwner.covers(ownerA)).toBe(true);
    expect(iamOwner.covers(p(['IAM_USER_MANAGER', 'MFA_CHALLENGE_ISSUER'], [['B', ['ORG_OWNER']]]))).toBe(
      true,
    );
  });
});
