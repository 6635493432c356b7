/** What a round of `retryBounded` answers when it wants another round; `reason` goes to `between` and `giveUp`. */
export class TryAgain<R> {
  constructor(readonly reason: R) {}
}

export interface BoundedRetry<T, R> {
  /** Rounds in all, at least one. */
  rounds: number;
  /** One round: its value ends the retry, a throw ends it with that error, `TryAgain` asks for another round. */
  attempt: () => Promise<T | TryAgain<R>>;
  /** Runs before each further round (a wait, say); never after the last one. */
  between?: (reason: R) => Promise<void>;
  /** The answer when the last round asked for another one too: a value, or (typically) a throw. */
  giveUp: (reason: R) => T;
}

/**
 * Runs `attempt` until it answers a value or throws, at most `rounds` times; a bound keeps a caller
 * that keeps losing a race from looping.
 */
export async function retryBounded<T, R>({
  rounds,
  attempt,
  between,
  giveUp,
}: BoundedRetry<T, R>): Promise<T> {
  for (let round = 1; ; round++) {
    const answer = await attempt();
    if (!(answer instanceof TryAgain)) return answer;
    if (round >= rounds) return giveUp(answer.reason);
    if (between) await between(answer.reason);
  }
}
