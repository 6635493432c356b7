import { Entity, JoinColumn, OneToOne, PrimaryColumn } from 'typeorm';
import { JsonTextColumn } from '../../common/database/columns';
import { EmailChallengeEntity } from './email-challenge.entity';

/**
 * The step-up request context of a challenge (what the backend will do once it is verified). One row
 * per challenge, written at creation; deleted when the challenge is consumed or by the retention
 * sweeper. A VERIFIED challenge without its row answers STEP_UP_REQUEST_CONTEXT_NOT_FOUND.
 */
@Entity({ name: 'email_challenge_contexts' })
export class EmailChallengeContextEntity {
  @PrimaryColumn({ type: 'varchar', length: 20, name: 'challenge_id' })
  challengeId: string;

  @OneToOne(() => EmailChallengeEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'challenge_id' })
  challenge?: EmailChallengeEntity;

  @JsonTextColumn({ name: 'context' })
  context: Record<string, unknown>;
}
