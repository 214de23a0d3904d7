import { ErrorCodes, JitcaError } from '../errors.ts';

/**
 * A principal as it may appear in an authorized_principals line: sshd takes the principal as the
 * text after the line's last space, so it must hold no whitespace, and a leading `#` would make
 * the line a comment. Narrower than the policy's PRINCIPAL_PATTERN (any non-space, non-comma
 * text): the gateway only admits principals that cannot change how sshd reads the line.
 */
const PRINCIPAL = /^[A-Za-z0-9_][A-Za-z0-9_.@-]{0,255}$/;
/** POSIX portable user names (useradd's default rule), the accounts sshd passes as %u. */
const ACCOUNT = /^[a-z_][a-z0-9_-]{0,31}$/;

/**
 * Parses the `--allow ACCOUNT=PRINCIPAL[,PRINCIPAL...]` options: which certificate principals may
 * log in as which local account on the gateway. Repeating an account adds to its principals.
 */
export function parseAccountPrincipals(entries: readonly string[]): Map<string, Set<string>> {
  const result = new Map<string, Set<string>>();
  for (const entry of entries) {
    const equals = entry.indexOf('=');
    const account = entry.slice(0, equals);
    const principals = entry.slice(equals + 1).split(',');
    if (equals < 0 || !ACCOUNT.test(account) || principals.some((principal) => !PRINCIPAL.test(principal))) {
      throw new JitcaError(ErrorCodes.CONFIG_INVALID, `--allow ${JSON.stringify(entry.slice(0, 300))}: expected ACCOUNT=PRINCIPAL[,PRINCIPAL...] with a POSIX account name and principals of letters, digits and _ . @ -`);
    }
    const set = result.get(account) ?? new Set<string>();
    for (const principal of principals) set.add(principal);
    result.set(account, set);
  }
  return result;
}

/**
 * The forced command goes inside command="..." in sshd's line: no quote, backslash or control
 * character can be allowed to end or extend it, and it must be an absolute path.
 */
export function checkSessionCommand(command: string): string {
  if (!command.startsWith('/') || /["\\\u0000-\u001f\u007f]/.test(command) || command.length > 1024) {
    throw new JitcaError(ErrorCodes.CONFIG_INVALID, '--session-command must be an absolute path and words, without quotes, backslashes or control characters');
  }
  return command;
}
