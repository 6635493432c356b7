/**
 * `jane.doe@example.com` → `j***e@example.com`: enough for the user to recognise the address, not
 * enough to read it. Local parts of one or two characters keep only their first character.
 */
export function maskEmail(email: string): string {
  const at = email.lastIndexOf('@');
  if (at <= 0) return '***';
  const local = [...email.slice(0, at)];
  const domain = email.slice(at + 1);
  const masked = local.length <= 2 ? `${local[0]}***` : `${local[0]}***${local[local.length - 1]}`;
  return `${masked}@${domain}`;
}
