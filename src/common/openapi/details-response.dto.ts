import { ApiProperty } from '@nestjs/swagger';
import { ObjectDetailsDto } from '../events/details';

/**
 * `zitadel.object.v2.Details` answers (`{details}` only), shared by every module that gives them:
 * Swagger merges schemas by class name, so there is one class of this name.
 */
export class DetailsResponseDto {
  @ApiProperty({ type: () => ObjectDetailsDto })
  details: ObjectDetailsDto;
}
