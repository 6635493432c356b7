import { parsePhoneNumberFromString } from 'libphonenumber-js/max';

/**
 * The E.164 form of `input` (spaces and dashes tolerated, a leading `+` and country code required),
 * or undefined when it is not a valid number of the numbering plan.
 */
export function normalizeE164(input: string): string | undefined {
  const trimmed = input.trim();
  if (!trimmed.startsWith('+')) return undefined;
  const parsed = parsePhoneNumberFromString(trimmed);
  if (!parsed || !parsed.isValid()) return undefined;
  const e164 = parsed.number;
  return /^\+[1-9]\d{1,14}$/.test(e164) ? e164 : undefined;
}

/** A number as it may appear in logs: country prefix and the last two digits, e.g. `+41…67`. */
export function maskPhone(e164: string): string {
  if (e164.length <= 6) return '…';
  return `${e164.slice(0, 3)}…${e164.slice(-2)}`;
}
