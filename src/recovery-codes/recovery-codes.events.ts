/** Event types of the recovery codes. */
export const RECOVERY_EVENTS = {
  added: 'user.human.recoverycodes.added',
  removed: 'user.human.recoverycodes.removed',
  checkSucceeded: 'user.human.recoverycode.check.succeeded',
  checkFailed: 'user.human.recoverycode.check.failed',
  checkLocked: 'user.human.recoverycode.check.locked',
} as const;
