import { Init1795308752933 } from './1795308752933-Init';
import { OtpSms1795309013824 } from './1795309013824-OtpSms';
import { EmailChallenges1795309048983 } from './1795309048983-EmailChallenges';
import { TotpFactors1795309072413 } from './1795309072413-TotpFactors';
import { SealStepUpContexts1795400000000 } from './1795400000000-SealStepUpContexts';
import { OtpChannelsAndRecoveryCodes1795969558369 } from './1795969558369-OtpChannelsAndRecoveryCodes';
import { NotificationOutbox1795971351031 } from './1795971351031-NotificationOutbox';
import { NotificationOutboxPendingOrder1796038388259 } from './1796038388259-NotificationOutboxPendingOrder';
/* The migrations, in order. `npm run migration:generate -- <Name>` appends to this list. */
export const MIGRATIONS: (new () => unknown)[] = [
  Init1795308752933,
  OtpSms1795309013824,
  EmailChallenges1795309048983,
  TotpFactors1795309072413,
  SealStepUpContexts1795400000000,
  OtpChannelsAndRecoveryCodes1795969558369,
  NotificationOutbox1795971351031,
  NotificationOutboxPendingOrder1796038388259,
];
