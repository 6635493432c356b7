import { Module } from '@nestjs/common';
import { NotificationRepository } from './notification.repository';
import { NotificationWorker } from './notification.worker';

/**
 * Security notifications by email: the routing of events to notification kinds (installed into the
 * Outbox, which writes the rows in the events' transactions) and the worker that delivers them.
 */
@Module({ providers: [NotificationRepository, NotificationWorker] })
export class NotificationsModule {}
