import { toRegExp } from './route-registry';

describe('toRegExp (Nest/Express 5 route path → RegExp)', () => {
  it('matches literal paths exactly', () => {
    const re = toRegExp('/v2/organizations');
    expect(re.test('/v2/organizations')).toBe(true);
    expect(re.test('/v2/organizations/1')).toBe(false);
    expect(re.test('/v2/organization')).toBe(false);
    expect(re.test('/x/v2/organizations')).toBe(false);
  });

  it('turns :params into exactly one non-empty segment', () => {
    const re = toRegExp('/v2/users/:userId/totp');
    expect(re.test('/v2/users/123/totp')).toBe(true);
    expect(re.test('/v2/users//totp')).toBe(false);
    expect(re.test('/v2/users/1/2/totp')).toBe(false);
  });

  it('keeps an escaped colon literal (grpc-gateway custom verbs like `:verify`)', () => {
    const re = toRegExp('/resources/v3alpha/users/:id/phone\\:verify');
    expect(re.test('/resources/v3alpha/users/42/phone:verify')).toBe(true);
    expect(re.test('/resources/v3alpha/users/42/phone:resend')).toBe(false);
  });

  it('supports params inside a segment before an escaped colon', () => {
    const re = toRegExp('/v1/things/:thingId\\:activate');
    expect(re.test('/v1/things/7:activate')).toBe(true);
    expect(re.test('/v1/things/7')).toBe(false);
  });

  it('escapes regular-expression characters', () => {
    const re = toRegExp('/a.b/(c)');
    expect(re.test('/a.b/(c)')).toBe(true);
    expect(re.test('/aXb/(c)')).toBe(false);
  });

  it('treats *name wildcards as any rest of the path', () => {
    const re = toRegExp('/static/*path');
    expect(re.test('/static/a/b.js')).toBe(true);
    expect(re.test('/other/a')).toBe(false);
  });
});
