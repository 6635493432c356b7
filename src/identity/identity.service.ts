import { Injectable } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { EntityManager } from 'typeorm';

import { INSTANCE_ROLES, ORG_ROLES } from '../common/auth/permissions';
import { Principal } from '../common/auth/principal';
import { RevocationBus } from '../common/auth/revocation-bus';
import { hashToken, TokenVerifier } from '../common/auth/token-verifier';
import { AppConfig } from '../common/config/app-config';
import { isUniqueViolation } from '../common/database/db-dialect';
import { newId } from '../common/database/id-generator';
import { TransactionRunner } from '../common/database/transaction-runner';
import { changeDetails, createDetails, ObjectDetailsDto } from '../common/events/details';
import { EventStore } from '../common/events/event-store';
import { DetailsResponseDto } from '../common/openapi/details-response.dto';
import { Clock } from '../common/time/clock';
import {
  AddHumanUserRequestDto,
  AddMachineUserRequestDto,
  AddPersonalAccessTokenResponseDto,
  AddUserResponseDto,
  CreateOrganizationResponseDto,
  GetUserByIDResponseDto,
  USER_STATES,
} from './dto/identity.dto';
import { INSTANCE_SCOPE } from './entities/membership.entity';
import { UserEntity, UserState } from './entities/user.entity';
import { IdentityDirectory } from './identity-directory';
import { IdentityErrors } from './identity.errors';
import { IdentityEvents, INSTANCE_AGGREGATE_ID } from './identity.events';
import { IdentityRepository } from './identity.repository';

type Caller = Principal | 'SYSTEM';

/** The user state changes of `POST /v2/users/{userId}/<action>`: allowed from-states, target state, event. */
const STATE_CHANGES = {
  deactivate: {
    from: ['ACTIVE', 'LOCKED'],
    to: 'INACTIVE',
    event: IdentityEvents.userDeactivated,
    id: 'IDENTITY-st01',
    text: 'User is already deactivated',
  },
  reactivate: {
    from: ['INACTIVE'],
    to: 'ACTIVE',
    event: IdentityEvents.userReactivated,
    id: 'IDENTITY-st02',
    text: 'User is not deactivated',
  },
  lock: {
    from: ['ACTIVE'],
    to: 'LOCKED',
    event: IdentityEvents.userLocked,
    id: 'IDENTITY-st03',
    text: 'User is not active',
  },
  unlock: {
    from: ['LOCKED'],
    to: 'ACTIVE',
    event: IdentityEvents.userUnlocked,
    id: 'IDENTITY-st04',
    text: 'User is not locked',
  },
} as const satisfies Record<
  string,
  { from: readonly UserState[]; to: UserState; event: string; id: string; text: string }
>;
export type UserStateChange = keyof typeof STATE_CHANGES;

/**
 * Organisations, users, personal access tokens and memberships. The guard decided "may this caller call
 * this route"; this service adds the rules about the objects: unknown → 404, and nobody acts on the
 * credentials or existence of a user who holds rights the caller does not hold (no escalation).
 */
@Injectable()
export class IdentityService {
  constructor(
    private readonly tx: TransactionRunner,
    private readonly repo: IdentityRepository,
    private readonly events: EventStore,
    private readonly clock: Clock,
    private readonly config: AppConfig,
    private readonly tokens: TokenVerifier,
    private readonly directory: IdentityDirectory,
    private readonly revocations: RevocationBus,
  ) {}

  async createOrganization(caller: Caller, name: string): Promise<CreateOrganizationResponseDto> {
    return this.uniquely(IdentityErrors.orgExists, () =>
      this.tx.run((em) => this.insertOrganization(em, caller, name, false)),
    );
  }

  async addHumanUser(caller: Caller, req: AddHumanUserRequestDto): Promise<AddUserResponseDto> {
    return this.uniquely(IdentityErrors.userExists, () =>
      this.tx.run((em) =>
        this.insertUser(em, caller, req.organization.orgId, req.username, IdentityEvents.humanAdded, {
          type: 'human',
          givenName: req.profile.givenName,
          familyName: req.profile.familyName,
          preferredLanguage: req.profile.preferredLanguage ?? null,
          email: req.email.email,
          emailVerified: !!req.email.isVerified,
          phone: req.phone?.phone ?? null,
          phoneVerified: !!req.phone?.isVerified,
        }),
      ),
    );
  }

  async addMachineUser(caller: Caller, req: AddMachineUserRequestDto): Promise<AddUserResponseDto> {
    return this.uniquely(IdentityErrors.userExists, () =>
      this.tx.run((em) =>
        this.insertUser(em, caller, req.organization.orgId, req.username, IdentityEvents.machineAdded, {
          type: 'machine',
          machineName: req.name,
        }),
      ),
    );
  }

  /**
   * ZITADEL GetUserByID: details from the user aggregate, empty fields omitted. One read
   * transaction, so user, organisation and aggregate are read as of one moment.
   */
  async getUser(userId: string): Promise<GetUserByIDResponseDto> {
    return this.tx.run(async (em) => {
      const user = await this.requireUser(em, userId);
      const org = await this.repo.findOrganization(user.orgId, em);
      if (!org) throw IdentityErrors.userNotFound();
      const agg = await this.events.aggregate(em, 'user', user.id);
      const state = `USER_STATE_${user.state}` as (typeof USER_STATES)[number];
      return {
        details: {
          ...(agg ? { sequence: String(agg.sequence), changeDate: iso(agg.changedAt) } : {}),
          resourceOwner: user.orgId,
          creationDate: iso(agg?.createdAt ?? user.createdAt),
        },
        user: {
          userId: user.id,
          state,
          username: user.username,
          loginNames: [`${user.username}@${org.primaryDomain}`],
          ...(user.type === 'human'
            ? {
                human: {
                  profile: {
                    givenName: user.givenName ?? '',
                    familyName: user.familyName ?? '',
                    ...(user.preferredLanguage ? { preferredLanguage: user.preferredLanguage } : {}),
                  },
                  email: { email: user.email ?? '', ...(user.emailVerified ? { isVerified: true } : {}) },
                  ...(user.phone
                    ? { phone: { phone: user.phone, ...(user.phoneVerified ? { isVerified: true } : {}) } }
                    : {}),
                },
              }
            : { machine: { name: user.machineName ?? '' } }),
        },
      };
    });
  }

  /** Removes the user; its factors, tokens and memberships go with it (foreign keys cascade). */
  async deleteUser(caller: Caller, userId: string): Promise<DetailsResponseDto> {
    await this.assertMayActOn(caller, userId);
    const details = await this.tx.run(async (em) => {
      const user = await this.requireUser(em, userId);
      await this.assertOwnersRemain(em, user.id);
      const e = await this.events.append(em, userEvent(caller, user, IdentityEvents.userRemoved));
      await this.repo.deleteUser(em, user.id);
      await this.revocations.publish(em, { userId: user.id });
      return changeDetails(e);
    });
    this.tokens.invalidateUser(userId);
    this.directory.forgetUser(userId);
    return { details };
  }

  /** Deactivate / reactivate / lock / unlock. A user that is not active cannot authenticate. */
  async changeUserState(
    caller: Caller,
    userId: string,
    change: UserStateChange,
  ): Promise<DetailsResponseDto> {
    const rule = STATE_CHANGES[change];
    await this.assertMayActOn(caller, userId);
    const details = await this.tx.run(async (em) => {
      const user = await this.requireUser(em, userId);
      if (!(rule.from as readonly UserState[]).includes(user.state))
        throw IdentityErrors.wrongUserState(rule.id, rule.text);
      if (rule.to !== 'ACTIVE') await this.assertOwnersRemain(em, user.id);
      await this.repo.setUserState(em, user.id, rule.to);
      await this.revocations.publish(em, { userId: user.id });
      return changeDetails(await this.events.append(em, userEvent(caller, user, rule.event)));
    });
    this.tokens.invalidateUser(userId);
    return { details };
  }

  async addPersonalAccessToken(
    caller: Caller,
    userId: string,
    expirationDate?: string,
  ): Promise<AddPersonalAccessTokenResponseDto> {
    let expiresAt: number | null = null;
    if (expirationDate !== undefined) {
      expiresAt = Date.parse(expirationDate);
      if (!Number.isFinite(expiresAt)) {
        throw IdentityErrors.expirationNotTimestamp();
      }
      if (expiresAt <= this.clock.now()) throw IdentityErrors.expirationInPast();
    }
    await this.assertMayActOn(caller, userId);
    return this.tx.run(async (em) =>
      this.insertToken(em, caller, await this.requireUser(em, userId), expiresAt),
    );
  }

  async removePersonalAccessToken(
    caller: Caller,
    userId: string,
    tokenId: string,
  ): Promise<DetailsResponseDto> {
    await this.assertMayActOn(caller, userId);
    const details = await this.tx.run(async (em) => {
      const user = await this.requireUser(em, userId);
      if (!(await this.repo.deleteToken(em, user.id, tokenId))) throw IdentityErrors.tokenNotFound();
      await this.revocations.publish(em, { userId: user.id, tokenId });
      return changeDetails(
        await this.events.append(em, {
          ...userEvent(caller, user, IdentityEvents.patRemoved),
          payload: { tokenId },
        }),
      );
    });
    this.tokens.invalidateToken(tokenId);
    return { details };
  }

  /** Grants `roles` on `scope` (an organisation id or INSTANCE), replacing the user's roles there. */
  async setMember(
    caller: Caller,
    scope: string,
    userId: string,
    roles: string[],
  ): Promise<DetailsResponseDto> {
    const details = await this.tx.run(async (em) => {
      const saved = await this.saveMember(em, caller, scope, userId, roles);
      await this.revocations.publish(em, { userId });
      return saved;
    });
    this.tokens.invalidateUser(userId);
    return { details };
  }

  async removeMember(caller: Caller, scope: string, userId: string): Promise<DetailsResponseDto> {
    const details = await this.tx.run(async (em) => {
      if (scope === INSTANCE_SCOPE) await this.assertOwnersRemain(em, userId);
      if (!(await this.repo.deleteMembership(em, userId, scope))) throw IdentityErrors.memberNotFound();
      await this.revocations.publish(em, { userId });
      return changeDetails(
        await this.events.append(em, memberEvent(caller, scope, IdentityEvents.memberRemoved, { userId })),
      );
    });
    this.tokens.invalidateUser(userId);
    return { details };
  }

  /**
   * First start: in ONE transaction, when there is no organisation yet, create the default organisation,
   * the `admin` machine user with IAM_OWNER and its token, and hand the token to `persist` before the
   * commit (so a failed write leaves an empty database that the next start bootstraps again).
   * Returns false when the database was already bootstrapped.
   */
  async bootstrap(persist: (token: string) => void): Promise<boolean> {
    try {
      return await this.tx.run(async (em) => {
        if ((await this.repo.countOrganizations(em)) > 0) return false;
        const { organizationId } = await this.insertOrganization(em, 'SYSTEM', 'Default', true);
        const { userId } = await this.insertUser(
          em,
          'SYSTEM',
          organizationId,
          'admin',
          IdentityEvents.machineAdded,
          {
            type: 'machine',
            machineName: 'Administrator',
          },
        );
        await this.saveMember(em, 'SYSTEM', INSTANCE_SCOPE, userId, ['IAM_OWNER']);
        const user = await this.requireUser(em, userId);
        const { token } = await this.insertToken(em, 'SYSTEM', user, null);
        persist(token);
        return true;
      });
    } catch (e) {
      // Another instance bootstrapped the same database at the same moment.
      if (isUniqueViolation(e)) return false;
      throw e;
    }
  }

  private async insertOrganization(
    em: EntityManager,
    caller: Caller,
    name: string,
    isDefault: boolean,
  ): Promise<CreateOrganizationResponseDto> {
    if (await this.repo.organizationNameTaken(name, em)) throw IdentityErrors.orgExists();
    const id = newId(this.clock.now());
    // Names are unique; their slugs may not be ("ACME" / "Acme!" / two non-Latin names): disambiguate the domain.
    let domain = `${slug(name)}.${this.config.instance.domain}`;
    if (await this.repo.domainTaken(domain, em))
      domain = `${slug(name)}-${id.slice(-6)}.${this.config.instance.domain}`;
    await this.repo.insertOrganization(em, {
      id,
      name,
      primaryDomain: domain,
      state: 'ACTIVE',
      isDefault,
      createdAt: this.clock.now(),
    });
    const e = await this.events.append(em, {
      aggregateType: 'org',
      aggregateId: id,
      resourceOwner: id,
      creator: creatorOf(caller),
      eventType: IdentityEvents.orgAdded,
      payload: { name },
    });
    return { organizationId: id, details: createDetails(e) };
  }

  private async insertUser(
    em: EntityManager,
    caller: Caller,
    orgId: string,
    username: string,
    eventType: string,
    fields: Partial<UserEntity>,
  ): Promise<AddUserResponseDto> {
    if (!(await this.repo.findOrganization(orgId, em))) throw IdentityErrors.orgNotFound();
    const id = newId(this.clock.now());
    await this.repo.insertUser(em, {
      id,
      orgId,
      username,
      state: 'ACTIVE',
      givenName: null,
      familyName: null,
      preferredLanguage: null,
      email: null,
      emailVerified: false,
      phone: null,
      phoneVerified: false,
      machineName: null,
      createdAt: this.clock.now(),
      type: 'human',
      ...fields,
    });
    const e = await this.events.append(em, {
      aggregateType: 'user',
      aggregateId: id,
      resourceOwner: orgId,
      creator: creatorOf(caller),
      eventType,
      payload: { username },
    });
    return { userId: id, details: createDetails(e) };
  }

  private async insertToken(
    em: EntityManager,
    caller: Caller,
    user: UserEntity,
    expiresAt: number | null,
  ): Promise<AddPersonalAccessTokenResponseDto> {
    const token = 'mfa_' + randomBytes(32).toString('base64url');
    const tokenId = newId(this.clock.now());
    await this.repo.insertToken(em, {
      id: tokenId,
      userId: user.id,
      tokenHash: hashToken(token),
      expiresAt,
      createdAt: this.clock.now(),
    });
    const e = await this.events.append(em, {
      ...userEvent(caller, user, IdentityEvents.patAdded),
      payload: { tokenId, expiresAt },
    });
    return { details: createDetails(e), tokenId, token };
  }

  private async saveMember(
    em: EntityManager,
    caller: Caller,
    scope: string,
    userId: string,
    roles: string[],
  ): Promise<ObjectDetailsDto> {
    const allowed: readonly string[] = scope === INSTANCE_SCOPE ? INSTANCE_ROLES : ORG_ROLES;
    const clean = [...new Set(roles)].filter((r) => allowed.includes(r));
    if (clean.length === 0) throw IdentityErrors.noValidRole();
    const user = await this.requireUser(em, userId);
    if (scope !== INSTANCE_SCOPE && !(await this.repo.findOrganization(scope, em)))
      throw IdentityErrors.orgNotFound();
    if (scope === INSTANCE_SCOPE && !clean.includes('IAM_OWNER')) await this.assertOwnersRemain(em, user.id);
    const existing = await this.repo.findMembership(user.id, scope, em);
    await this.repo.saveMembership(em, user.id, scope, clean, this.clock.now());
    const e = await this.events.append(
      em,
      memberEvent(caller, scope, existing ? IdentityEvents.memberChanged : IdentityEvents.memberAdded, {
        userId: user.id,
        roles: clean,
      }),
    );
    return changeDetails(e);
  }

  private async requireUser(em: EntityManager, userId: string): Promise<UserEntity> {
    const user = await this.repo.findUser(userId, em);
    if (!user) throw IdentityErrors.userNotFound();
    return user;
  }

  /**
   * Acting on another user's tokens or existence needs every right that user holds: otherwise an
   * ORG_USER_MANAGER could mint a token for its ORG_OWNER, or an ORG_OWNER of the default organisation
   * one for the IAM_OWNER admin. Acting on oneself is always allowed. Unknown users fall through to 404.
   */
  private async assertMayActOn(caller: Caller, userId: string): Promise<void> {
    if (caller === 'SYSTEM' || caller.userId === userId) return;
    const target = await this.directory.rolesOfUser(userId);
    if (target && !caller.covers(target)) throw IdentityErrors.permissionDenied();
  }

  /** The instance must keep at least one active IAM_OWNER, or nobody could administer it again. */
  private async assertOwnersRemain(em: EntityManager, leavingUserId: string): Promise<void> {
    const owners = await this.repo.activeInstanceOwners(em);
    if (owners.length === 1 && owners[0] === leavingUserId) throw IdentityErrors.lastOwner();
  }

  /** Runs `work`; a unique-constraint violation (a concurrent duplicate) becomes `conflict`. */
  private async uniquely<T>(conflict: () => Error, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (e) {
      if (isUniqueViolation(e)) throw conflict();
      throw e;
    }
  }
}

const iso = (ms: number) => new Date(ms).toISOString();

function creatorOf(caller: Principal | 'SYSTEM'): string {
  return caller === 'SYSTEM' ? 'SYSTEM' : caller.userId;
}

function userEvent(caller: Principal | 'SYSTEM', user: UserEntity, eventType: string) {
  return {
    aggregateType: 'user',
    aggregateId: user.id,
    resourceOwner: user.orgId,
    creator: creatorOf(caller),
    eventType,
  };
}

function memberEvent(
  caller: Principal | 'SYSTEM',
  scope: string,
  what: string,
  payload: Record<string, unknown>,
) {
  const instance = scope === INSTANCE_SCOPE;
  return {
    aggregateType: instance ? 'instance' : 'org',
    aggregateId: instance ? INSTANCE_AGGREGATE_ID : scope,
    resourceOwner: instance ? INSTANCE_AGGREGATE_ID : scope,
    creator: creatorOf(caller),
    eventType: `${instance ? 'instance' : 'org'}.${what}`,
    payload,
  };
}

function slug(name: string): string {
  const s = name
    .normalize('NFKD')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 60);
  return s || 'org';
}
