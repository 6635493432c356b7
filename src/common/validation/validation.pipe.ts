import { ArgumentMetadata, Injectable, PipeTransform, SetMetadata, ValidationError } from '@nestjs/common';
import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { DomainError, FieldError } from '../errors/domain-error';

const REJECT_UNKNOWN_KEY = 'mfa:reject-unknown-fields';

/**
 * Unknown-field policy of a DTO. ZITADEL-compatible DTOs ignore unknown fields (as ZITADEL's gateway
 * does with DiscardUnknown); the email-challenge API rejects them. Its DTOs carry this decorator.
 */
export const RejectUnknownFields = () => SetMetadata(REJECT_UNKNOWN_KEY, true) as ClassDecorator;

/**
 * The global validation pipe: class-validator DTOs, whitelisting, every violation turned into a
 * DomainError(INVALID_ARGUMENT) with field errors. The ZITADEL renderer shows the first violation as
 * `invalid <Message>.<Field>: <reason>`, the email-challenge renderer lists all of them.
 */
@Injectable()
export class AppValidationPipe implements PipeTransform {
  transform(value: unknown, metadata: ArgumentMetadata): unknown {
    const metatype = metadata.metatype;
    if (!metatype || !isDtoClass(metatype) || metadata.type === 'custom') return value;
    const messageName = metatype.name.replace(/Dto$/, '');
    if (metadata.type === 'body' && (value === undefined || value === null || value === '')) value = {};
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new DomainError(
        'INVALID_ARGUMENT',
        undefined,
        `invalid ${messageName}: request body must be a JSON object`,
        {
          fieldErrors: [{ field: '', message: 'request body must be a JSON object' }],
        },
      );
    }
    const rejectUnknown = Reflect.getMetadata(REJECT_UNKNOWN_KEY, metatype) === true;
    const instance = plainToInstance(metatype as new () => object, value, {
      enableImplicitConversion: false,
    });
    // Synchronous: no constraint of ours is asynchronous (validateSync would skip one), and the
    // asynchronous form costs a promise per property on every request.
    const errors = validateSync(instance, {
      whitelist: true,
      forbidNonWhitelisted: rejectUnknown,
      forbidUnknownValues: true,
      validationError: { target: false, value: false },
    });
    if (errors.length > 0) {
      const fieldErrors = flatten(errors, '');
      const first = fieldErrors[0];
      throw new DomainError(
        'INVALID_ARGUMENT',
        undefined,
        `invalid ${messageName}.${pascalPath(first.field)}: ${first.message}`,
        { fieldErrors },
      );
    }
    return instance;
  }
}

function isDtoClass(metatype: unknown): metatype is new () => object {
  const primitives: unknown[] = [String, Boolean, Number, Array, Object];
  return typeof metatype === 'function' && !primitives.includes(metatype);
}

function flatten(errors: ValidationError[], prefix: string): FieldError[] {
  const out: FieldError[] = [];
  for (const e of errors) {
    const field = prefix ? `${prefix}.${e.property}` : e.property;
    if (e.constraints) {
      const entries = Object.entries(e.constraints);
      // forbidNonWhitelisted speaks of "property X should not exist"; keep our wording.
      for (const [name, message] of entries) {
        out.push({ field, message: name === 'whitelistValidation' ? 'unknown field' : message });
        if (name !== 'whitelistValidation') break;
      }
    }
    if (e.children?.length) out.push(...flatten(e.children, field));
  }
  return out;
}

function pascalPath(field: string): string {
  return field
    .split('.')
    .map((p) => (p ? p[0].toUpperCase() + p.slice(1) : p))
    .join('.');
}
