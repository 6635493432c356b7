import { Column, Entity, JoinColumn, OneToOne, PrimaryColumn } from 'typeorm';
import { EmailChallengeEntity } from './email-challenge.entity';

/** The associated data a step-up context is sealed with (binds it to its challenge). */
export const stepUpContextAad = (challengeId: string) => `email-challenge-context:${challengeId}`;

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

  /** The context as JSON, sealed (SecretBox, aad = stepUpContextAad(challenge id)): it may hold payment details. */
  @Column({ type: 'text', name: 'context' })
  context: string;
}
