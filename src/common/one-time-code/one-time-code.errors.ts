import { Errors } from '../errors/domain-error';

/**
 * The errors of sending and checking one-time codes (ZITADEL's ids and texts where ZITADEL has the
 * case: `CODE-…` of its crypto codes; ours otherwise).
 */
export const OneTimeCodeErrors = {
  codeNotFound: () => Errors.failedPrecondition('COMMAND-S34gh', 'Code not found'),
  codeExpired: () => Errors.failedPrecondition('CODE-QvUQ4P', 'Code is expired'),
  codeInvalid: () => Errors.invalidArgument('CODE-woT0xc', 'Code is invalid'),
  codeExhausted: () =>
    Errors.failedPrecondition('OTPCODE-Att3mx', 'Too many wrong attempts for this code, request a new code'),
  cooldown: (retryAfterSeconds: number) =>
    Errors.resourceExhausted('OTPCODE-C00ld9', 'A code was sent recently, try again later', {
      retryAfterSeconds,
    }),
  dailyLimit: (retryAfterSeconds: number) =>
    Errors.resourceExhausted('OTPSMS-D4yl1m', 'Too many messages to this phone number today', {
      retryAfterSeconds,
    }),
  unavailable: () => Errors.unavailable('OTPCODE-Snd503', 'The code could not be sent, try again later'),
};
