/**
 * Policy messages name the API's fields ("name the one you need in \"role\""); on the command
 * line the same answer must name the flag. Applied to what the CLI prints, never to the API's
 * answers or the audit log.
 */
const API_ROLE_HINT = 'name the one you need in "role"';
const CLI_ROLE_HINT = 'name the one you need with --role';

export function forCommandLine(message: string, rule: unknown): string {
  if (rule !== 'role.ambiguous') return message;
  return message.includes(API_ROLE_HINT) ? message.replace(API_ROLE_HINT, CLI_ROLE_HINT) : `${message} (${CLI_ROLE_HINT})`;
}
