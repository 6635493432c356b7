import { AggregateEntity, EventEntity } from './common/events/event.entity';
import { EmailChallengeContextEntity } from './email-challenge/entities/email-challenge-context.entity';
import { EmailChallengeEntity } from './email-challenge/entities/email-challenge.entity';
import { NotificationOutboxEntity } from './notifications/entities/notification-outbox.entity';
import { MembershipEntity } from './identity/entities/membership.entity';
import { OrganizationEntity } from './identity/entities/organization.entity';
import { PersonalAccessTokenEntity } from './identity/entities/personal-access-token.entity';
import { UserEntity } from './identity/entities/user.entity';
import { OtpSmsAuthenticatorEntity } from './otp-sms/entities/otp-sms-authenticator.entity';
import { SmsDailyCounterEntity } from './otp-sms/entities/sms-daily-counter.entity';
import { TotpFactorEntity } from './totp/entities/totp-factor.entity';
import { OneTimeCodeEntity } from './common/one-time-code/one-time-code.entity';
import { OtpChannelFactorEntity } from './common/one-time-code/otp-channel-factor.entity';
import { RecoveryCodeEntity, RecoveryCodeSetEntity } from './recovery-codes/entities/recovery-code.entity';

/**
 * Every entity of the service. The data source, the migration generator and the drift test read this
 * list; a module adds its entities here (and a migration for them).
 */
export const ENTITIES = [
  EventEntity,
  AggregateEntity,
  OrganizationEntity,
  UserEntity,
  PersonalAccessTokenEntity,
  MembershipEntity,
  EmailChallengeEntity,
  EmailChallengeContextEntity,
  OtpSmsAuthenticatorEntity,
  SmsDailyCounterEntity,
  TotpFactorEntity,
  OneTimeCodeEntity,
  OtpChannelFactorEntity,
  RecoveryCodeSetEntity,
  RecoveryCodeEntity,
  NotificationOutboxEntity,
];
