import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { Principal } from '../auth/principal';
import { rawQuery, isUniqueViolation } from '../database/db-dialect';
import { TransactionRunner } from '../database/transaction-runner';
import { DomainError } from '../errors/domain-error';
import { changeDetails } from '../events/details';
import { EventStore } from '../events/event-store';
import { DetailsResponseDto } from '../openapi/details-response.dto';
import { Clock } from '../time/clock';
import { CodeSubject } from './check/code-check';
import { CodePolicy, Deliver, OneTimeCodes } from './one-time-codes';

/** One channel of OTP factors: its code policy, events and errors (ZITADEL's ids per channel). */
export interface OtpChannel {
  name: 'sms' | 'email';
  policy: CodePolicy;
  events: { added: string; removed: string };
  errors: {
    alreadyExists: () => DomainError;
    destinationNotVerified: () => DomainError;
    notFound: () => DomainError;
  };
}

/**
 * The v2 OTP factors on a channel (SMS, email): add on a verified destination, remove, send a
 * sign-in code, check it. One implementation for both channels; the modules bring the destination
 * and its delivery.
 */
@Injectable()
export class OtpChannelFactors {
  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    private readonly clock: Clock,
    private readonly runner: TransactionRunner,
    private readonly events: EventStore,
    private readonly codes: OneTimeCodes,
  ) {}

  /** AddOTPSMS / AddOTPEmail: already added first, then the destination's verification (as ZITADEL). */
  async add(
    channel: OtpChannel,
    caller: Principal,
    subject: CodeSubject,
    destinationVerified: boolean,
  ): Promise<DetailsResponseDto> {
    try {
      const event = await this.runner.run(async (em) => {
        if (await this.exists(em, channel, subject.id)) throw channel.errors.alreadyExists();
        if (!destinationVerified) throw channel.errors.destinationNotVerified();
        await rawQuery(
          em,
          `INSERT INTO otp_channel_factors (user_id, channel, created_at) VALUES ($1, $2, $3)`,
          [subject.id, channel.name, this.clock.now()],
        );
        // A code issued by a send that raced with an earlier removal must not outlive it.
        await this.codes.remove(em, channel.policy.purpose, subject.id);
        return this.events.appendUserEvent(em, caller, subject, channel.events.added);
      });
      return { details: changeDetails(event) };
    } catch (err) {
      // Two concurrent adds: the primary key lets one win.
      if (isUniqueViolation(err)) throw channel.errors.alreadyExists();
      throw err;
    }
  }

  /** RemoveOTPSMS / RemoveOTPEmail: the factor and any pending code. */
  async remove(channel: OtpChannel, caller: Principal, subject: CodeSubject): Promise<DetailsResponseDto> {
    const event = await this.runner.run(async (em) => {
      const { affected } = await rawQuery(
        em,
        `DELETE FROM otp_channel_factors WHERE user_id = $1 AND channel = $2`,
        [subject.id, channel.name],
      );
      if (affected !== 1) throw channel.errors.notFound();
      await this.codes.remove(em, channel.policy.purpose, subject.id);
      return this.events.appendUserEvent(em, caller, subject, channel.events.removed);
    });
    return { details: changeDetails(event) };
  }

  /** Sends a sign-in code over the channel (the factor must exist). */
  async send(
    channel: OtpChannel,
    caller: Principal,
    subject: CodeSubject,
    deliver: Deliver,
    beforeIssue?: (em: EntityManager, now: number) => Promise<void>,
  ): Promise<DetailsResponseDto> {
    if (!(await this.has(channel.name, subject.id))) throw channel.errors.notFound();
    return {
      details: changeDetails(await this.codes.send(channel.policy, caller, subject, deliver, beforeIssue)),
    };
  }

  /**
   * Checks a sign-in code of the channel (the factor must exist: checked by the statement that takes
   * the attempt, and read only when that refuses); whitespace around the code is ignored.
   */
  async check(
    channel: OtpChannel,
    caller: Principal,
    subject: CodeSubject,
    code: string,
  ): Promise<DetailsResponseDto> {
    const event = await this.codes.check(channel.policy, caller, subject, code.trim(), {
      channel: channel.name,
      notFound: channel.errors.notFound,
    });
    return { details: changeDetails(event) };
  }

  /** Whether the user has the factor on the channel (for the factor list). */
  async has(channel: OtpChannel['name'], userId: string): Promise<boolean> {
    return this.exists(this.ds.manager, { name: channel }, userId);
  }

  private async exists(
    em: EntityManager,
    channel: Pick<OtpChannel, 'name'>,
    userId: string,
  ): Promise<boolean> {
    const { rows } = await rawQuery(
      em,
      `SELECT 1 AS one FROM otp_channel_factors WHERE user_id = $1 AND channel = $2`,
      [userId, channel.name],
    );
    return rows.length > 0;
  }
}
