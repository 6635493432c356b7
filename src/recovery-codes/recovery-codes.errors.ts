import { Errors } from '../common/errors/domain-error';

/** Our errors (ZITADEL's recovery codes name none for these cases). */
export const RecoveryCodeErrors = {
  notFound: () => Errors.notFound('RECOVERY-n0tfnd', "Recovery codes don't exist"),
  invalid: () => Errors.invalidArgument('RECOVERY-1nv4ld', 'Recovery code is invalid'),
  locked: (retryAfterSeconds: number) =>
    Errors.resourceExhausted('RECOVERY-l0ck3d', 'Too many failed attempts, try again later', {
      retryAfterSeconds,
    }),
};
