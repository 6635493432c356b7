import { renderChallengeMail } from './mail-content';
import { maskEmail } from './mask-email';

describe('maskEmail', () => {
  it.each([
    ['jane.doe@example.com', 'j***e@example.com'],
    ['ab@example.com', 'a***@example.com'],
    ['a@example.com', 'a***@example.com'],
    ['not-an-address', '***'],
  ])('%s → %s', (input, masked) => expect(maskEmail(input)).toBe(masked));
});

describe('renderChallengeMail', () => {
  const mail = {
    to: 'jane@example.com',
    challengeId: '1',
    code: '042317',
    operation: '<b>payment</b>.approve',
    expiresAt: Date.UTC(2025, 2, 5, 21, 34, 22),
    ttlSeconds: 300,
  };

  it('puts the code, the operation, the expiry and a "not you?" line in the text part', () => {
    const { text } = renderChallengeMail(mail);
    expect(text).toContain('Your verification code is: 042317');
    expect(text).toContain('<b>payment</b>.approve');
    expect(text).toContain('expires in 5 minutes (at 2025-03-05 21:34:22 UTC)');
    expect(text).toContain('Not you?');
    expect(text).not.toContain('jane@example.com');
  });

  it('escapes the operation in the HTML part', () => {
    const { html } = renderChallengeMail(mail);
    expect(html).toContain('042317');
    expect(html).toContain('&lt;b&gt;payment&lt;/b&gt;.approve');
    expect(html).not.toContain('<b>payment');
    expect(html).toContain('Not you?');
  });
});
