import { Clock } from '../../src/common/time/clock';

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
