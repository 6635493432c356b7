import { Module } from '@nestjs/common';
import { MailModule } from '../common/mail/mail.module';
import { IdentityModule } from '../identity';
import { NotificationRepository } from './notification.repository';
import { NotificationWorker } from './notification.worker';

/**
 * Security notifications by email: the routing of events to notification kinds (installed into the
 * Outbox, which writes the rows in the events' transactions) and the worker that delivers them.
 */
@Module({
  imports: [MailModule, IdentityModule],
  providers: [NotificationRepository, NotificationWorker],
})
export class NotificationsModule {}
