import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptions } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  IsBoolean,
  IsInt,
  IsObject,
  IsOptional,
  Max,
  Min,
  ValidateBy,
  ValidateNested,
  ValidationOptions,
  buildMessage,
} from 'class-validator';

/** Characters as protoc-gen-validate counts them (runes / code points, not UTF-16 units). */
export function runeLength(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/** String of min..max runes. Messages follow protoc-gen-validate so ZITADEL-style errors read the same. */
export function RuneLength(min: number, max: number, options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'runeLength',
      constraints: [min, max],
      validator: {
        validate: (value: unknown) =>
          typeof value === 'string' && runeLength(value) >= min && runeLength(value) <= max,
        defaultMessage: buildMessage((_each, args) =>
          typeof args?.value === 'string' || args?.value === undefined || args?.value === null
            ? min === max
              ? `value length must be ${min} runes`
              : `value length must be between ${min} and ${max} runes, inclusive`
            : 'value must be a string',
        ),
      },
    },
    options,
  );
}

interface FieldDoc {
  description?: string;
  example?: unknown;
  optional?: boolean;
  /** Extra OpenAPI options (format, pattern, deprecated ...). */
  api?: ApiPropertyOptions;
}

function doc(d: FieldDoc, extra: ApiPropertyOptions): PropertyDecorator {
  return ApiProperty({
    required: !d.optional,
    description: d.description,
    example: d.example,
    ...extra,
    ...(d.api ?? {}),
  } as ApiPropertyOptions);
}

/** A string field of `min..max` characters, validated and documented in one place. */
export function StringField(
  d: FieldDoc & { min?: number; max: number; pattern?: RegExp; patternMessage?: string },
) {
  const min = d.min ?? (d.optional ? 0 : 1);
  const decorators: PropertyDecorator[] = [
    doc(d, { type: String, minLength: min || undefined, maxLength: d.max }),
    RuneLength(min, d.max),
  ];
  if (d.pattern) {
    const pattern = d.pattern;
    decorators.push(
      ValidateBy({
        name: 'pattern',
        validator: {
          validate: (v: unknown) => typeof v === 'string' && pattern.test(v),
          defaultMessage: () => d.patternMessage ?? `value does not match regex pattern "${pattern.source}"`,
        },
      }),
    );
  }
  if (d.optional) decorators.unshift(IsOptional());
  return applyDecorators(...decorators);
}

export function IntField(d: FieldDoc & { min: number; max: number }) {
  const decorators: PropertyDecorator[] = [
    doc(d, { type: 'integer', minimum: d.min, maximum: d.max }),
    IsInt({ message: 'value must be an integer' }),
    Min(d.min, { message: `value must be inside range [${d.min}, ${d.max}]` }),
    Max(d.max, { message: `value must be inside range [${d.min}, ${d.max}]` }),
  ];
  if (d.optional) decorators.unshift(IsOptional());
  return applyDecorators(...decorators);
}

export function BoolField(d: FieldDoc) {
  const decorators: PropertyDecorator[] = [
    doc(d, { type: Boolean }),
    IsBoolean({ message: 'value must be a boolean' }),
  ];
  if (d.optional) decorators.unshift(IsOptional());
  return applyDecorators(...decorators);
}

/** A nested message, validated recursively. */
export function NestedField(d: FieldDoc & { type: () => new () => object }) {
  const decorators: PropertyDecorator[] = [
    doc(d, { type: d.type }),
    ValidateNested({ message: 'embedded message failed validation' }),
    Type(d.type),
    IsObject({ message: 'value must be an object' }),
  ];
  if (d.optional) decorators.unshift(IsOptional());
  return applyDecorators(...decorators);
}

/** A free-form JSON object (e.g. a step-up request context), at most `maxBytes` when serialised. */
export function JsonObjectField(d: FieldDoc & { maxBytes: number }) {
  const decorators: PropertyDecorator[] = [
    doc(d, { type: 'object', additionalProperties: true }),
    ValidateBy({
      name: 'jsonObject',
      validator: {
        validate: (v: unknown) =>
          typeof v === 'object' &&
          v !== null &&
          !Array.isArray(v) &&
          Buffer.byteLength(JSON.stringify(v), 'utf8') <= d.maxBytes,
        defaultMessage: () => `value must be a JSON object of at most ${d.maxBytes} bytes`,
      },
    }),
  ];
  if (d.optional) decorators.unshift(IsOptional());
  return applyDecorators(...decorators);
}
