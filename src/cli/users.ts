import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import type { Command } from 'commander';
import { addLocalUser, removeLocalUser } from '../authn/local-users.ts';
import { ErrorCodes, JitcaError } from '../errors.ts';
import { MAX_PUBLIC_KEY_INPUT_BYTES } from '../ssh/public-key.ts';
import { collect } from './common.ts';
import { withConfiguredStore } from './configured-store.ts';

/**
 * Local identities, administered on the CA host against the configured store (the database only:
 * no HSM, no PIN), each change audited with who ran it. Logging in is `jitca login --local`.
 */
export function registerUsers(program: Command): void {
  const users = program.command('users').description('local identities: people who log in with an SSH key instead of an OpenID provider');
  users
    .command('add <name>')
    .description('register a person with their groups and the SSH public key they log in with (audited)')
    .requiredOption('--group <group>', 'a group policy grants roles to; repeatable', collect, [])
    .requiredOption('--key <file.pub>', 'their SSH public key (Ed25519, ECDSA, sk-* or RSA >= 2048): one key per person, one person per key')
    .option('--actor <name>', 'who registers, for the audit log (default: local:<your OS user>)')
    .action(async (name: string, options: { group: string[]; key: string; actor?: string }, command: Command) => {
      const publicKey = readPublicKeyFile(options.key);
      await withConfiguredStore(command, async (store) => {
        const user = await addLocalUser(store, { name, groups: options.group, publicKey, actor: options.actor ?? operator() });
        process.stderr.write(`added local user ${user.name} (groups ${user.groups.join(', ')}; key ${user.fingerprint})\n`);
      });
    });
  users
    .command('list')
    .description('registered local users, one per line: name, groups, key fingerprint, added when and by whom')
    .option('--json', 'as a JSON array')
    .action(async (options: { json?: boolean }, command: Command) => {
      await withConfiguredStore(command, async (store) => {
        const listed = await store.listLocalUsers();
        if (options.json === true) {
          process.stdout.write(`${JSON.stringify(listed, null, 2)}\n`);
          return;
        }
        for (const user of listed) process.stdout.write(`${user.name}\t${user.groups.join(',')}\t${user.fingerprint}\t${user.addedAt}\t${user.addedBy}\n`);
      });
    });
  users
    .command('remove <name>')
    .description('remove a local user (audited); their session tokens stop working at once')
    .option('--actor <name>', 'who removes, for the audit log (default: local:<your OS user>)')
    .action(async (name: string, options: { actor?: string }, command: Command) => {
      await withConfiguredStore(command, async (store) => {
        await removeLocalUser(store, name, options.actor ?? operator());
        process.stderr.write(`removed local user ${name}\n`);
      });
    });
}

function operator(): string {
  return `local:${userInfo().username}`;
}

function readPublicKeyFile(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new JitcaError(ErrorCodes.REQUEST_INVALID, `cannot read the public key ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if (Buffer.byteLength(text) > MAX_PUBLIC_KEY_INPUT_BYTES) throw new JitcaError(ErrorCodes.REQUEST_INVALID, `${file} is not one public key (too large)`);
  if (text.includes('PRIVATE KEY')) throw new JitcaError(ErrorCodes.REQUEST_INVALID, `${file} is a private key: name the .pub file`);
  return text.trim();
}
