import { Global, Module } from '@nestjs/common';
import { EventStore } from './event-store';
import { Outbox } from './outbox';

@Global()
@Module({ providers: [EventStore, Outbox], exports: [EventStore, Outbox] })
export class EventsModule {}
