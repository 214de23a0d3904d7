/**
 * The layering the code keeps (docs/architecture.md), checked by reading every import:
 * - hsm/ is a key backend: it imports nothing from src/ or rotation/.
 * - Only the composition root (src/ca-runtime.ts), config and the CLI name the PKCS#11 backend;
 *   everyone else reaches keys through the key-manager seam (src/keys). The seam itself imports
 *   the backend's error type only, to map it.
 * - The composition root is imported by the CLI and the API's entry points only; issuance,
 *   rotation and everything below never import it.
 * - src/ssh and src/x509 are leaf codecs: their own folder, the error codes, the seam's Signer
 *   type and Ed25519 key check (pure key material, no backend) and (x509) the policy's Scope type.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');

interface Import {
  from: string;
  /** Repository-relative path of a relative import, else the package name. */
  to: string;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir), { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => path.relative(ROOT, path.join(entry.parentPath, entry.name)));
}

function withoutComments(source: string): string {
  return source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
}

/** With valuesOnly, `import type`/`export type` statements are left out: they load nothing at run time. */
function importsOf(file: string, valuesOnly = false): Import[] {
  const text = withoutComments(readFileSync(path.join(ROOT, file), 'utf8'));
  const source = valuesOnly ? text.replace(/\b(?:import|export)\s+type\s[^;]*;/g, '') : text;
  const specifiers = [
    ...source.matchAll(/\b(?:import|export)\s[^;'"]*?\bfrom\s*['"]([^'"]+)['"]/g),
    ...source.matchAll(/\bimport\s*['"]([^'"]+)['"]/g),
    ...source.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g),
  ].map((match) => match[1] ?? '');
  return specifiers.map((specifier) => ({
    from: file,
    to: specifier.startsWith('.') ? path.relative(ROOT, path.resolve(ROOT, path.dirname(file), specifier)) : specifier,
  }));
}

const ALL = [...sourceFiles('src'), ...sourceFiles('hsm'), ...sourceFiles('rotation')];
const IMPORTS = ALL.flatMap((file) => importsOf(file));
const show = (imports: Import[]): string[] => imports.map(({ from, to }) => `${from} -> ${to}`);

describe('import rules', () => {
  it('reads the imports it checks', () => {
    expect(IMPORTS.length).toBeGreaterThan(300);
    expect(show(IMPORTS)).toContain('src/ca-runtime.ts -> hsm/pkcs11-token.ts');
  });

  it('hsm/ imports nothing from src/ or rotation/', () => {
    expect(show(IMPORTS.filter(({ from, to }) => from.startsWith('hsm/') && /^(src|rotation)\//.test(to)))).toEqual([]);
  });

  it('only the composition root, config and the CLI name the PKCS#11 backend', () => {
    const allowed = (file: string): boolean => file.startsWith('hsm/') || file === 'src/ca-runtime.ts' || file === 'src/config.ts' || file.startsWith('src/cli/');
    const seamMapsErrors = (i: Import): boolean => i.from.startsWith('src/keys/') && i.to === 'hsm/hsm-error.ts';
    expect(show(IMPORTS.filter((i) => !allowed(i.from) && i.to.startsWith('hsm/') && !seamMapsErrors(i)))).toEqual([]);
    expect(show(IMPORTS.filter((i) => !allowed(i.from) && /pkcs11|softhsm/i.test(i.to)))).toEqual([]);
    const naming = ALL.filter((file) => !allowed(file) && /pkcs11|softhsm/i.test(withoutComments(readFileSync(path.join(ROOT, file), 'utf8'))));
    expect(naming).toEqual([]);
  });

  it('nothing but the CLI and the API entry points imports the composition root', () => {
    const allowed = (file: string): boolean => file.startsWith('src/cli/') || file.startsWith('src/api/');
    expect(show(IMPORTS.filter((i) => i.to === 'src/ca-runtime.ts' && !allowed(i.from)))).toEqual([]);
  });

  it('issuance and rotation import neither the API nor the CLI', () => {
    const upward = IMPORTS.filter(({ from, to }) => /^(src\/issuance|rotation)\//.test(from) && /^src\/(api|cli)\//.test(to));
    expect(show(upward)).toEqual([]);
  });

  it('src/ssh and src/x509 stay leaf codecs', () => {
    const leafAllowed = (i: Import): boolean =>
      !i.to.startsWith('src/') && !/^(hsm|rotation)\//.test(i.to)
        ? true
        : i.to.startsWith(`${path.dirname(i.from)}/`) ||
          i.to === 'src/errors.ts' ||
          i.to === 'src/keys/signer.ts' ||
          i.to === 'src/keys/ed25519-point.ts' ||
          (i.from.startsWith('src/x509/') && i.to === 'src/policy/types.ts');
    expect(show(IMPORTS.filter((i) => /^src\/(ssh|x509)\//.test(i.from) && !leafAllowed(i)))).toEqual([]);
  });

  it('the client entry point (the single executable) reaches none of the CA: no HSM, store, database driver or API server', () => {
    // What it loads at run time (type-only imports load nothing), followed file by file.
    const reached = new Set(['src/cli/client-main.ts']);
    const imports: Import[] = [];
    for (const file of reached) {
      for (const i of importsOf(file, true)) {
        imports.push(i);
        if (/^(src|hsm|rotation)\//.test(i.to)) reached.add(i.to);
      }
    }
    const serverSide = (to: string): boolean =>
      /^(hsm|rotation)\//.test(to) ||
      /^src\/(store|api|k8s|gateway|ha)\//.test(to) ||
      ['src/ca-runtime.ts', 'src/config.ts', 'src/config-schema.ts'].includes(to) ||
      /^(pkcs11js|better-sqlite3|pg|kysely|fastify|@fastify\/.*|@kubernetes\/client-node|node:sqlite)$/.test(to);
    expect(reached.size).toBeGreaterThan(20);
    expect(show(imports.filter((i) => serverSide(i.to)))).toEqual([]);
  });
});
