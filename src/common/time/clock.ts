import { Global, Injectable, Module } from '@nestjs/common';

/** The service's notion of "now", in epoch milliseconds. Tests swap in a FakeClock (test/helpers/fake-clock.ts). */
@Injectable()
export class Clock {
  now(): number {
    return Date.now();
  }
}

@Global()
@Module({ providers: [Clock], exports: [Clock] })
export class ClockModule {}
