/** The event types the identity module appends (aggregates `org`, `user` and `instance`). */
export const IdentityEvents = {
  orgAdded: 'org.added',
  humanAdded: 'user.human.added',
  machineAdded: 'user.machine.added',
  userRemoved: 'user.removed',
  userDeactivated: 'user.deactivated',
  userReactivated: 'user.reactivated',
  userLocked: 'user.locked',
  userUnlocked: 'user.unlocked',
  patAdded: 'user.pat.added',
  patRemoved: 'user.pat.removed',
  /** Membership events are `<instance|org>.member.<added|changed|removed>`. */
  memberAdded: 'member.added',
  memberChanged: 'member.changed',
  memberRemoved: 'member.removed',
} as const;

/** The aggregate id of the instance (its memberships' events). */
export const INSTANCE_AGGREGATE_ID = '100000000000000000';
