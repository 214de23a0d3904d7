import { execFileSync } from 'node:child_process';
import { chownSync, mkdirSync } from 'node:fs';
import path from 'node:path';

const JITCA = path.resolve(import.meta.dirname, '../../bin/jitca');

/**
 * A Node compile cache (NODE_COMPILE_CACHE) for `bin/jitca` run as `user`, warmed once by that
 * user and then handed to root, readable by all and writable by none: sshd runs the gateway's hooks
 * as accounts without a writable HOME (nobody), so bin/jitca's own per-user cache never applies
 * and each login compiled every module from scratch. Node keys the cache by uid and only reads a
 * directory it cannot write, so nobody can plant code in it.
 */
export function readOnlyCompileCache(parent: string, user: string, warmWith: readonly string[][]): string {
  const cache = path.join(parent, 'node-compile-cache');
  mkdirSync(cache, { mode: 0o755 });
  const uid = Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());
  chownSync(cache, uid, uid);
  for (const args of warmWith) {
    execFileSync('runuser', ['-u', user, '--', 'env', `NODE_COMPILE_CACHE=${cache}`, JITCA, ...args], { stdio: 'ignore' });
  }
  execFileSync('chown', ['-R', 'root:root', cache]);
  execFileSync('chmod', ['-R', 'a+rX,go-w', cache]);
  return cache;
}
