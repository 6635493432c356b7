import { DomainError } from '../common/errors/domain-error';
import { BareCodeBodyPipe } from './code-body.pipe';

describe('BareCodeBodyPipe', () => {
  const pipe = new BareCodeBodyPipe('VerifyOTPSMSRegistrationRequest');
  const message =
    'invalid VerifyOTPSMSRegistrationRequest.Code: value length must be between 1 and 200 runes, inclusive';

  it('passes strings of 1..200 characters', () => {
    expect(pipe.transform('12345678')).toBe('12345678');
    expect(pipe.transform('x'.repeat(200))).toBe('x'.repeat(200));
    expect(pipe.transform('€'.repeat(200))).toBe('€'.repeat(200)); // runes, not bytes
  });

  it.each([[''], ['x'.repeat(201)], [12345678], [{ code: '12345678' }], [undefined], [null], [['1']]])(
    'rejects %p',
    (value) => {
      try {
        pipe.transform(value);
        throw new Error('no error');
      } catch (e) {
        expect(e).toBeInstanceOf(DomainError);
        expect((e as DomainError).kind).toBe('INVALID_ARGUMENT');
        expect((e as DomainError).message).toBe(message);
      }
    },
  );
});
