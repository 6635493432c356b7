import { Injectable, PipeTransform } from '@nestjs/common';
import { DomainError } from '../common/errors/domain-error';
import { runeLength } from '../common/validation/fields';

/**
 * For routes whose HTTP body *is* the code (grpc-gateway `body: "code"`): the JSON body must be a
 * string of 1..200 characters. A string of another length fails with the upstream
 * protoc-gen-validate message, e.g. `invalid VerifyOTPSMSRegistrationRequest.Code: value length must
 * be between 1 and 200 runes, inclusive`; anything else (an object such as `{"code": …}`, a number,
 * no body) is told that the body is the code itself as a JSON string.
 */
@Injectable()
export class BareCodeBodyPipe implements PipeTransform<unknown, string> {
  constructor(
    private readonly messageName: string,
    private readonly min = 1,
    private readonly max = 200,
  ) {}

  transform(value: unknown): string {
    if (typeof value === 'string' && runeLength(value) >= this.min && runeLength(value) <= this.max)
      return value;
    const reason =
      typeof value === 'string'
        ? `value length must be between ${this.min} and ${this.max} runes, inclusive`
        : 'the body must be the code as a JSON string, e.g. "12345678"';
    throw new DomainError('INVALID_ARGUMENT', undefined, `invalid ${this.messageName}.Code: ${reason}`, {
      fieldErrors: [{ field: 'code', message: reason }],
    });
  }
}
