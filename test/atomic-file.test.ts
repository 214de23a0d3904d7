import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { writeFileAtomic } from '../src/atomic-file.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'jitca-atomic-'));
  dirs.push(dir);
  return dir;
}

describe('writeFileAtomic', () => {
  it('replaces the file with exactly the given mode, whatever the umask, and leaves no temporary file', () => {
    const dir = tempDir();
    const file = path.join(dir, 'token.json');
    writeFileSync(file, 'old');
    const previous = process.umask(0o077);
    try {
      writeFileAtomic(file, 'new', 0o644);
    } finally {
      process.umask(previous);
    }
    expect(readFileSync(file, 'utf8')).toBe('new');
    expect(statSync(file).mode & 0o777).toBe(0o644);
    writeFileAtomic(file, Uint8Array.of(1, 2, 3), 0o600);
    expect([...readFileSync(file)]).toEqual([1, 2, 3]);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual(['token.json']);
  });

  it('removes its temporary file when the rename fails, and leaves the target as it was', () => {
    const dir = tempDir();
    // Renaming a file over a non-empty directory fails (EISDIR).
    const target = path.join(dir, 'occupied');
    mkdirSync(target);
    writeFileSync(path.join(target, 'inside'), 'kept');
    expect(() => writeFileAtomic(target, 'new', 0o644)).toThrow();
    expect(readdirSync(dir)).toEqual(['occupied']);
    expect(readFileSync(path.join(target, 'inside'), 'utf8')).toBe('kept');
  });
});
