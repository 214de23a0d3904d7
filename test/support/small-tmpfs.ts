import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * A 2 MiB tmpfs to fill up: the one way here to make writes fail with ENOSPC (a full disk) for
 * real. Mounting needs root; without it the test is skipped, saying why. Unmounting and removing
 * the mount point go onto `cleanups`, which the caller runs in reverse order.
 */
export function mountSmallTmpfs(
  context: { skip(note: string): void },
  cleanups: Array<() => void | Promise<void>>,
): string | undefined {
  const mountPoint = fs.mkdtempSync(path.join(tmpdir(), 'jitca-full-fs-'));
  cleanups.push(() => fs.rmdirSync(mountPoint));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', mountPoint], { stdio: 'ignore' });
  } catch {
    context.skip('mounting a small tmpfs needs root; the disk-full fault cannot be produced here');
    return undefined;
  }
  cleanups.push(() => {
    execFileSync('umount', [mountPoint]);
  });
  return mountPoint;
}
