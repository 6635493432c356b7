import { execFileSync } from 'node:child_process';
import { OATHTOOL_CODES, RFC_SECRET, RFC_VECTORS } from '../../test/fixtures/totp-vectors';
import { matchStepWithOtplib, totpCodeWithOtplib } from '../../test/helpers/otplib-reference';
import { decodeSecret, matchStep, newTotpSecret, timeStep, totpCode, totpUri } from './totp-algorithm';

function oathtool(secret: string, epochSeconds: number): string | undefined {
  try {
    return execFileSync('oathtool', ['--totp', '-b', secret, '-N', `@${epochSeconds}`], {
      encoding: 'utf8',
    }).trim();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

describe('TOTP algorithm (RFC 6238, SHA1/6/30s, ±1 step)', () => {
  it('generates the RFC 6238 SHA1 test vectors (node:crypto routine and otplib)', () => {
    expect(decodeSecret(RFC_SECRET).toString('ascii')).toBe('12345678901234567890');
    for (const [seconds, code] of RFC_VECTORS) {
      expect([seconds, totpCode(RFC_SECRET, seconds * 1000)]).toEqual([seconds, code]);
      expect([seconds, totpCodeWithOtplib(RFC_SECRET, seconds * 1000)]).toEqual([seconds, code]);
      expect(matchStep(RFC_SECRET, code, seconds * 1000)).toBe(Math.floor(seconds / 30));
    }
  });

  it('agrees with oathtool codes (recorded, and live where oathtool is installed)', () => {
    for (const [secret, seconds, code] of OATHTOOL_CODES) {
      expect(totpCode(secret, seconds * 1000)).toBe(code);
      expect(matchStep(secret, code, seconds * 1000)).toBe(timeStep(seconds * 1000));
    }
    const live = oathtool(RFC_SECRET, 59);
    if (live === undefined) {
      // No oathtool on this machine: the recorded codes above are the independent cross-check.
      expect(OATHTOOL_CODES.length).toBeGreaterThan(10);
      return;
    }
    expect(live).toBe('287082');
    for (let i = 0; i < 10; i++) {
      const secret = newTotpSecret();
      const seconds = Math.floor(Math.random() * 4_000_000_000);
      expect(totpCode(secret, seconds * 1000)).toBe(oathtool(secret, seconds));
    }
  });

  it('matches exactly what otplib verify accepts, for hits, neighbours, far steps and junk', () => {
    for (let i = 0; i < 200; i++) {
      const secret = newTotpSecret();
      const now = Math.floor(Math.random() * 4_000_000_000_000);
      for (const offset of [-3, -2, -1, 0, 1, 2, 3]) {
        const code = totpCodeWithOtplib(secret, now + offset * 30_000);
        expect(matchStep(secret, code, now)).toBe(matchStepWithOtplib(secret, code, now));
      }
      for (const junk of ['', '12345', '1234567', 'abcdef', ' 12345 ', '١٢٣٤٥٦']) {
        expect(matchStep(secret, junk, now)).toBeUndefined();
        expect(matchStepWithOtplib(secret, junk, now)).toBeUndefined();
      }
    }
  });

  it('accepts the previous, current and next step and names the step that matched', () => {
    const secret = newTotpSecret();
    const now = 1_700_000_015_000;
    const t = timeStep(now);
    expect(matchStep(secret, totpCode(secret, now - 30_000), now)).toBe(t - 1);
    expect(matchStep(secret, totpCode(secret, now), now)).toBe(t);
    expect(matchStep(secret, ` ${totpCode(secret, now + 30_000)}\n`, now)).toBe(t + 1);
    expect(matchStep(secret, totpCode(secret, now + 60_000), now)).toBeUndefined();
    expect(matchStep(secret, totpCode(secret, now - 60_000), now)).toBeUndefined();
  });

  it('makes 20-byte secrets in base32 without padding', () => {
    const s = newTotpSecret();
    expect(s).toMatch(/^[A-Z2-7]{32}$/);
    expect(decodeSecret(s)).toHaveLength(20);
    expect(newTotpSecret()).not.toBe(s);
  });

  it('builds the otpauth URI in pquerna/otp layout', () => {
    expect(totpUri('ZITADEL', 'gigi@acme.zitadel.cloud', 'TJOPWSDYILLHXFV4MLKNNJOWFG7VSDCK')).toBe(
      'otpauth://totp/ZITADEL:gigi@acme.zitadel.cloud?algorithm=SHA1&digits=6&issuer=ZITADEL&period=30&secret=TJOPWSDYILLHXFV4MLKNNJOWFG7VSDCK',
    );
    expect(totpUri('MFA Service', 'a b', 'X')).toBe(
      'otpauth://totp/MFA%20Service:a%20b?algorithm=SHA1&digits=6&issuer=MFA%20Service&period=30&secret=X',
    );
  });
});
