import { ID_PATTERN, newId } from './id-generator';

describe('newId', () => {
  it('makes 18-digit decimal strings', () => {
    const id = newId(Date.UTC(2025, 5, 1));
    expect(id).toMatch(/^[1-9]\d{17}$/);
    expect(id).toMatch(ID_PATTERN);
    expect(newId(Date.UTC(2050, 0, 1))).toHaveLength(18);
  });

  it('is strictly increasing, as numbers and as strings, within and across milliseconds', () => {
    const t = Date.UTC(2025, 6, 1);
    const ids: string[] = [];
    for (let i = 0; i < 3000; i++) ids.push(newId(t)); // more than 1024 in one ms: borrows the next ms
    for (let i = 0; i < 10; i++) ids.push(newId(t + 5 + i));
    for (let i = 1; i < ids.length; i++) {
      expect(BigInt(ids[i]) > BigInt(ids[i - 1])).toBe(true);
      expect(ids[i] > ids[i - 1]).toBe(true);
    }
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('never goes backwards when the clock does', () => {
    const a = newId(Date.UTC(2025, 7, 1, 12));
    const b = newId(Date.UTC(2025, 7, 1, 11));
    expect(BigInt(b) > BigInt(a)).toBe(true);
  });
});
