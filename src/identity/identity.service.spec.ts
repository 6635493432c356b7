import { EntityManager } from 'typeorm';
import { FakeClock } from '../../test/helpers/fake-clock';
import { RecordingEventStore } from '../../test/helpers/recording-event-store';
import { Principal } from '../common/auth/principal';
import { RevocationBus } from '../common/auth/revocation-bus';
import { TokenVerifier } from '../common/auth/token-verifier';
import { AppConfig } from '../common/config/app-config';
import { TransactionRunner } from '../common/database/transaction-runner';
import { DomainError } from '../common/errors/domain-error';
import { INSTANCE_SCOPE, MembershipEntity } from './entities/membership.entity';
import { OrganizationEntity } from './entities/organization.entity';
import { PersonalAccessTokenEntity } from './entities/personal-access-token.entity';
import { UserEntity, UserState } from './entities/user.entity';
import { IdentityDirectory } from './identity-directory';
import { IdentityEvents } from './identity.events';
import { IdentityRepository } from './identity.repository';
import { IdentityService } from './identity.service';

/** The public methods of a class (a fake implements these, so it follows every signature change). */
type PublicOf<T> = { [K in keyof T]: T[K] };

const EM = {} as EntityManager;

/** Organisations, users, tokens and memberships in memory. */
class FakeIdentityRepository implements PublicOf<IdentityRepository> {
  readonly orgs = new Map<string, OrganizationEntity>();
  readonly users = new Map<string, UserEntity>();
  readonly tokens = new Map<string, PersonalAccessTokenEntity>();
  readonly members = new Map<string, { userId: string; scope: string; roles: string[] }>();

  async countOrganizations() {
    return this.orgs.size;
  }
  async findOrganization(orgId: string) {
    return this.orgs.get(orgId) ?? null;
  }
  async organizationNameTaken(name: string) {
    return [...this.orgs.values()].some((o) => o.name.toLowerCase() === name.toLowerCase());
  }
  async domainTaken(domain: string) {
    return [...this.orgs.values()].some((o) => o.primaryDomain === domain);
  }
  async insertOrganization(_em: EntityManager, org: OrganizationEntity) {
    this.orgs.set(org.id, org);
  }
  async findUser(userId: string) {
    return this.users.get(userId) ?? null;
  }
  async insertUser(_em: EntityManager, user: UserEntity) {
    this.users.set(user.id, user);
  }
  async setUserState(_em: EntityManager, userId: string, state: UserState) {
    this.users.get(userId)!.state = state;
  }
  async deleteUser(_em: EntityManager, userId: string) {
    this.users.delete(userId);
  }
  async insertToken(_em: EntityManager, token: PersonalAccessTokenEntity) {
    this.tokens.set(token.id, token);
  }
  async deleteToken(_em: EntityManager, userId: string, tokenId: string) {
    const t = this.tokens.get(tokenId);
    return !!t && t.userId === userId && this.tokens.delete(tokenId);
  }
  async findMembership(userId: string, scope: string) {
    const m = this.members.get(`${userId}:${scope}`);
    return m ? ({ ...m, roles: m.roles.join(',') } as unknown as MembershipEntity) : null;
  }
  async saveMembership(_em: EntityManager, userId: string, scope: string, roles: string[]) {
    this.members.set(`${userId}:${scope}`, { userId, scope, roles });
  }
  async deleteMembership(_em: EntityManager, userId: string, scope: string) {
    return this.members.delete(`${userId}:${scope}`);
  }
  async activeInstanceOwners() {
    return [...this.members.values()]
      .filter((m) => m.scope === INSTANCE_SCOPE && m.roles.includes('IAM_OWNER'))
      .filter((m) => this.users.get(m.userId)?.state === 'ACTIVE')
      .map((m) => m.userId);
  }
}

function setup() {
  const clock = new FakeClock(Date.UTC(2026, 0, 1));
  const repo = new FakeIdentityRepository();
  const events = new RecordingEventStore(clock);
  const tx = { run: <T>(work: (em: EntityManager) => Promise<T>) => work(EM) };
  const invalidated: string[] = [];
  const tokens = {
    invalidateUser: (id: string) => invalidated.push(`user:${id}`),
    invalidateToken: (id: string) => invalidated.push(`token:${id}`),
  };
  /** The roles the guard's directory would report: read from the fake memberships. */
  const directory = {
    rolesOfUser: async (userId: string) => {
      const u = repo.users.get(userId);
      if (!u) return undefined;
      const instance = repo.members.get(`${userId}:${INSTANCE_SCOPE}`)?.roles ?? [];
      return new Principal(userId, u.orgId, u.type, 'pat', instance as never[], new Map());
    },
    forgetUser: () => undefined,
  };
  const revocations = { publish: async () => undefined };
  const config = { instance: { id: 'default', domain: 'localhost' } } as unknown as AppConfig;
  const service = new IdentityService(
    tx as unknown as TransactionRunner,
    repo as unknown as IdentityRepository,
    events,
    clock,
    config,
    tokens as unknown as TokenVerifier,
    directory as unknown as IdentityDirectory,
    revocations as unknown as RevocationBus,
  );
  return { clock, repo, events, invalidated, service };
}

async function failure(p: Promise<unknown>): Promise<DomainError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(DomainError);
  return e as DomainError;
}

/** A bootstrapped instance: the default organisation and its IAM_OWNER `admin`. */
async function bootstrapped() {
  const s = setup();
  expect(await s.service.bootstrap(() => undefined)).toBe(true);
  const admin = [...s.repo.users.values()][0];
  const org = [...s.repo.orgs.values()][0];
  s.clock.advance(1);
  const human = async (username: string) =>
    (
      await s.service.addHumanUser('SYSTEM', {
        organization: { orgId: org.id },
        username,
        profile: { givenName: 'A', familyName: 'B' },
        email: { email: `${username}@example.com` },
      })
    ).userId;
  return { ...s, admin, org, human };
}

describe('IdentityService', () => {
  it('bootstraps once: default organisation, admin machine user with IAM_OWNER, one token', async () => {
    const s = await bootstrapped();
    expect(await s.service.bootstrap(() => undefined)).toBe(false);
    expect(s.repo.members.get(`${s.admin.id}:${INSTANCE_SCOPE}`)?.roles).toEqual(['IAM_OWNER']);
    expect(s.events.types()).toEqual([
      IdentityEvents.orgAdded,
      IdentityEvents.machineAdded,
      `instance.${IdentityEvents.memberAdded}`,
      IdentityEvents.patAdded,
    ]);
  });

  it('answers unknown organisations and users, and duplicate names, from the catalog', async () => {
    const s = await bootstrapped();
    const org = await failure(
      s.service.addMachineUser('SYSTEM', { organization: { orgId: '999' }, username: 'x', name: 'X' }),
    );
    expect([org.kind, org.id]).toEqual(['NOT_FOUND', 'COMMAND-55M9f']);
    const user = await failure(s.service.getUser('399999999999999999'));
    expect([user.kind, user.id]).toEqual(['NOT_FOUND', 'COMMAND-bx2OLtgGNS']);
    const dup = await failure(s.service.createOrganization('SYSTEM', 'default'));
    expect([dup.kind, dup.id]).toEqual(['ALREADY_EXISTS', 'COMMAND-8ugTs']);
  });

  it('changes user state only from the allowed states, and drops cached tokens', async () => {
    const s = await bootstrapped();
    const alice = await s.human('alice');
    await s.service.changeUserState('SYSTEM', alice, 'lock');
    expect(s.repo.users.get(alice)!.state).toBe('LOCKED');
    expect(s.invalidated).toContain(`user:${alice}`);
    const again = await failure(s.service.changeUserState('SYSTEM', alice, 'lock'));
    expect([again.kind, again.id, again.message]).toEqual([
      'FAILED_PRECONDITION',
      'IDENTITY-st03',
      'User is not active',
    ]);
    await s.service.changeUserState('SYSTEM', alice, 'unlock');
    expect(s.events.types().slice(-2)).toEqual([IdentityEvents.userLocked, IdentityEvents.userUnlocked]);
  });

  it('never removes, locks or demotes the last active IAM_OWNER', async () => {
    const s = await bootstrapped();
    const lock = await failure(s.service.changeUserState('SYSTEM', s.admin.id, 'lock'));
    expect(lock.id).toBe('IDENTITY-own01');
    const remove = await failure(s.service.removeMember('SYSTEM', INSTANCE_SCOPE, s.admin.id));
    expect(remove.id).toBe('IDENTITY-own01');
    const demote = await failure(
      s.service.setMember('SYSTEM', INSTANCE_SCOPE, s.admin.id, ['IAM_USER_MANAGER']),
    );
    expect(demote.id).toBe('IDENTITY-own01');
  });

  it('refuses to mint a token for a user holding rights the caller lacks', async () => {
    const s = await bootstrapped();
    const manager = await s.human('manager');
    await s.service.setMember('SYSTEM', INSTANCE_SCOPE, manager, ['IAM_USER_MANAGER']);
    const caller = new Principal(manager, s.org.id, 'human', 'pat', ['IAM_USER_MANAGER'], new Map());
    const err = await failure(s.service.addPersonalAccessToken(caller, s.admin.id));
    expect([err.kind, err.id]).toEqual(['PERMISSION_DENIED', 'AUTH-AWfge']);
    // Acting on oneself is always allowed.
    expect((await s.service.addPersonalAccessToken(caller, manager)).token).toMatch(/^mfa_/);
  });

  it('checks the expiration of a new token', async () => {
    const s = await bootstrapped();
    const past = await failure(
      s.service.addPersonalAccessToken('SYSTEM', s.admin.id, '2020-01-01T00:00:00Z'),
    );
    expect([past.kind, past.id]).toEqual(['INVALID_ARGUMENT', 'COMMAND-dv3t5']);
  });
});
