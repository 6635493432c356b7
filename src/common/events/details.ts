import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { AppendedEvent } from './event-store';

const SEQ_DESC =
  'on read: the sequence of the last event reduced by the projection\non manipulation: the timestamp of the event(s) added by the manipulation';
const CHANGE_DESC =
  'on read: the timestamp of the last event reduced by the projection\non manipulation: the timestamp of the event(s) added by the manipulation';
const CREATE_DESC =
  'on read: the timestamp of the first event of the object\non create: the timestamp of the event(s) added by the manipulation';

/** ZITADEL `zitadel.object.v2.Details` / `zitadel.v1.ObjectDetails`. Empty fields are omitted. */
export class ObjectDetailsDto {
  @ApiPropertyOptional({ type: String, format: 'uint64', example: '2', description: SEQ_DESC })
  sequence?: string;

  @ApiPropertyOptional({
    type: String,
    format: 'date-time',
    example: '2025-03-05T21:29:22.094Z',
    description: CHANGE_DESC,
  })
  changeDate?: string;

  @ApiPropertyOptional({
    type: String,
    example: '69629023906488334',
    description: 'resource_owner is the organization an object belongs to',
  })
  resourceOwner?: string;

  @ApiPropertyOptional({
    type: String,
    format: 'date-time',
    example: '2025-03-05T21:29:22.094Z',
    description: CREATE_DESC,
  })
  creationDate?: string;
}

export const OWNER_TYPES = [
  'OWNER_TYPE_UNSPECIFIED',
  'OWNER_TYPE_SYSTEM',
  'OWNER_TYPE_INSTANCE',
  'OWNER_TYPE_ORG',
] as const;

export class OwnerDto {
  @ApiProperty({ enum: OWNER_TYPES, enumName: 'v3alphaOwnerType', default: 'OWNER_TYPE_UNSPECIFIED' })
  type: (typeof OWNER_TYPES)[number];

  @ApiProperty({ type: String, example: '69629023906488334' })
  id: string;
}

/** ZITADEL `zitadel.resources.object.v3alpha.Details`. */
export class ResourceDetailsDto {
  @ApiPropertyOptional({ type: String, example: '69629012906488334' })
  id?: string;

  @ApiPropertyOptional({
    type: String,
    format: 'date-time',
    description: 'the timestamp of the first event applied to the object.',
  })
  created?: string;

  @ApiPropertyOptional({
    type: String,
    format: 'date-time',
    description: 'the timestamp of the last event applied to the object.',
  })
  changed?: string;

  @ApiPropertyOptional({
    type: () => OwnerDto,
    description: 'the parent object representing the returned objects context.',
  })
  owner?: OwnerDto;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** v2 / v1 change details: `{sequence, changeDate, resourceOwner}`. */
export function changeDetails(e: AppendedEvent): ObjectDetailsDto {
  return { sequence: String(e.sequence), changeDate: iso(e.createdAt), resourceOwner: e.resourceOwner };
}

/** v1 add details (as upstream `AddToDetailsPb`): `{sequence, creationDate, resourceOwner}`. */
export function addDetails(e: AppendedEvent): ObjectDetailsDto {
  return { sequence: String(e.sequence), creationDate: iso(e.createdAt), resourceOwner: e.resourceOwner };
}

/** v2 details of a create: change date plus the aggregate's creation date. */
export function createDetails(e: AppendedEvent): ObjectDetailsDto {
  return { ...changeDetails(e), creationDate: iso(e.aggregateCreatedAt) };
}

/** v3alpha details: `{id, created?, changed, owner:{type:"OWNER_TYPE_ORG", id}}`. */
export function resourceDetails(e: AppendedEvent, id: string, createdMs?: number): ResourceDetailsDto {
  const d: ResourceDetailsDto = { id };
  if (createdMs !== undefined) d.created = iso(createdMs);
  d.changed = iso(e.createdAt);
  d.owner = { type: 'OWNER_TYPE_ORG', id: e.resourceOwner };
  return d;
}
