import { DomainError } from '../common/errors/domain-error';
import { BareCodeBodyPipe } from './code-body.pipe';

describe('BareCodeBodyPipe', () => {
  const pipe = new BareCodeBodyPipe('VerifyOTPSMSRegistrationRequest');
  const lengthMessage =
    'invalid VerifyOTPSMSRegistrationRequest.Code: value length must be between 1 and 200 runes, inclusive';
  const typeMessage =
    'invalid VerifyOTPSMSRegistrationRequest.Code: the body must be the code as a JSON string, e.g. "12345678"';

  const failure = (value: unknown): DomainError => {
    try {
      pipe.transform(value);
    } catch (e) {
      expect(e).toBeInstanceOf(DomainError);
      expect((e as DomainError).kind).toBe('INVALID_ARGUMENT');
      return e as DomainError;
    }
    throw new Error('no error');
  };

  it('passes strings of 1..200 characters', () => {
    expect(pipe.transform('12345678')).toBe('12345678');
    expect(pipe.transform('x'.repeat(200))).toBe('x'.repeat(200));
    expect(pipe.transform('€'.repeat(200))).toBe('€'.repeat(200)); // runes, not bytes
  });

  it.each([[''], ['x'.repeat(201)]])('rejects the string %p by its length', (value) => {
    expect(failure(value).message).toBe(lengthMessage);
  });

  it.each([[12345678], [{ code: '12345678' }], [{}], [undefined], [null], [['1']], [true]])(
    'rejects %p, saying that the body is the code as a JSON string',
    (value) => {
      const e = failure(value);
      expect(e.message).toBe(typeMessage);
      expect(e.options.fieldErrors).toEqual([
        { field: 'code', message: 'the body must be the code as a JSON string, e.g. "12345678"' },
      ]);
    },
  );
});
