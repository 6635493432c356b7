import { Global, Injectable, Module } from '@nestjs/common';

/** The service's notion of "now", in epoch milliseconds. Tests swap in a FakeClock. */
@Injectable()
export class Clock {
  now(): number {
    return Date.now();
  }
}

/** A clock that only moves when told to: for expiry and lockout tests. */
export class FakeClock extends Clock {
  constructor(private current = Date.now()) {
    super();
  }
  override now(): number {
    return this.current;
  }
  advance(ms: number): void {
    this.current += ms;
  }
  set(ms: number): void {
    this.current = ms;
  }
}

@Global()
@Module({ providers: [Clock], exports: [Clock] })
export class ClockModule {}
