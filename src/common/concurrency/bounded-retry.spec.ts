import { retryBounded, TryAgain } from './bounded-retry';

describe('retryBounded', () => {
  const giveUp = (reason: string): string => {
    throw new Error(`gave up: ${reason}`);
  };

  it('answers the first value, without waiting', async () => {
    const between = jest.fn(async () => undefined);
    await expect(retryBounded({ rounds: 3, attempt: async () => 'ok', between, giveUp })).resolves.toBe('ok');
    expect(between).not.toHaveBeenCalled();
  });

  it('runs another round while asked to, with `between` before each further round only', async () => {
    const log: string[] = [];
    let n = 0;
    const answer = await retryBounded<string, string>({
      rounds: 5,
      attempt: async () => {
        log.push(`round ${++n}`);
        return n < 3 ? new TryAgain(`busy ${n}`) : 'done';
      },
      between: async (reason) => void log.push(`wait (${reason})`),
      giveUp,
    });
    expect(answer).toBe('done');
    expect(log).toEqual(['round 1', 'wait (busy 1)', 'round 2', 'wait (busy 2)', 'round 3']);
  });

  it('gives up with the last reason after the last round, without waiting after it', async () => {
    const attempt = jest.fn(async () => new TryAgain('still busy'));
    const between = jest.fn(async () => undefined);
    await expect(retryBounded({ rounds: 3, attempt, between, giveUp })).rejects.toThrow(
      'gave up: still busy',
    );
    expect(attempt).toHaveBeenCalledTimes(3);
    expect(between).toHaveBeenCalledTimes(2);
  });

  it('ends with the error a round throws', async () => {
    const attempt = jest.fn(async (): Promise<string> => {
      throw new Error('no such factor');
    });
    await expect(retryBounded({ rounds: 3, attempt, giveUp })).rejects.toThrow('no such factor');
    expect(attempt).toHaveBeenCalledTimes(1);
  });
});
