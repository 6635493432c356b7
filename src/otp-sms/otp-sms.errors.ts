import { CommonErrors } from '../common/errors/common-errors';
import { Errors } from '../common/errors/domain-error';

/** Every error the OTP SMS routes answer with (ZITADEL family: id and message as upstream says them). */
export const OtpSmsErrors = {
  instanceNotFound: () => Errors.notFound('QUERY-n0wng', 'Instance not found'),
  userNotFound: CommonErrors.userNotFound,
  notFound: () => Errors.notFound('COMMAND-Sr3h3', "Multifactor OTP (OneTimePassword) doesn't exist"),
  alreadyExists: () =>
    Errors.alreadyExists('COMMAND-Ad3g2', 'Multifactor OTP (OneTimePassword) is already set up'),
  alreadyReady: () =>
    Errors.failedPrecondition('COMMAND-qx4ls', 'Multifactor OTP (OneTimePassword) is already set up'),
  notReady: () => Errors.failedPrecondition('COMMAND-SFD52', "Multifactor OTP (OneTimePassword) isn't ready"),
  /** ZITADEL's id for checking a code of a factor that is not ready (COMMAND-SFD52 is for sending to it). */
  notReadyToCheck: () =>
    Errors.failedPrecondition('COMMAND-d2r52', "Multifactor OTP (OneTimePassword) isn't ready"),
  phoneInvalid: () => Errors.invalidArgument('PHONE-so0wa', 'Phone is invalid'),
  codeNotFound: () => Errors.failedPrecondition('COMMAND-S34gh', 'Code not found'),
  codeExpired: () => Errors.failedPrecondition('CODE-QvUQ4P', 'Code is expired'),
  codeInvalid: () => Errors.invalidArgument('CODE-woT0xc', 'Code is invalid'),
  codeExhausted: () =>
    Errors.failedPrecondition('OTPSMS-Att3mx', 'Too many wrong attempts for this code, request a new code'),
  codeReplaced: () =>
    Errors.failedPrecondition('OTPSMS-Rpl4cd', 'A newer code was issued at the same time, use that one'),
  cooldown: (seconds: number) =>
    Errors.resourceExhausted('OTPSMS-C00ld9', 'A code was sent recently, try again later', {
      retryAfterSeconds: seconds,
    }),
  dailyLimit: (seconds: number) =>
    Errors.resourceExhausted('OTPSMS-D4yl1m', 'Too many messages to this phone number today', {
      retryAfterSeconds: seconds,
    }),
  unavailable: () => Errors.unavailable('OTPSMS-Snd503', 'The SMS could not be sent, try again later'),
  selfVerified: () =>
    CommonErrors.permissionDenied(
      'isVerified is only for a caller acting on another user with user.credential.write; verify your own number with the code sent to it',
    ),
  selfReturnCode: () =>
    CommonErrors.permissionDenied(
      'returnCode is only for a caller acting on another user with user.credential.write; have the code sent by SMS instead',
    ),
  oneVerification: () =>
    Errors.invalidArgument(
      undefined,
      'invalid SetPhone.Verification: set at most one of sendCode, returnCode, isVerified',
    ),
  oneDelivery: () =>
    Errors.invalidArgument(
      undefined,
      'invalid SendOTPSMSCodeRequest.Verification: set at most one of sendCode, returnCode',
    ),
};

/** ZITADEL's errors of AddOTPSMS / RemoveOTPSMS (ids and English texts). */
export const OtpSmsV2Errors = {
  alreadyExists: () =>
    Errors.alreadyExists('COMMAND-Ad3g2', 'Multifactor OTP (OneTimePassword) is already set up'),
  phoneNotVerified: () =>
    Errors.failedPrecondition('COMMAND-Q54j2', "Multifactor OTP (OneTimePassword) isn't ready"),
  notFound: () => Errors.notFound('COMMAND-Sr3h3', "Multifactor OTP (OneTimePassword) doesn't exist"),
};
