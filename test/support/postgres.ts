/**
 * A private PostgreSQL 15 cluster for tests: its own data directory under os.tmpdir(), a random
 * free port on 127.0.0.1 only, trust authentication, removed by stop(). PostgreSQL refuses to run
 * as root, so when the tests run as root every server command runs as the `postgres` system user
 * (from the Debian package) via runuser, in a directory that user owns.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const PG_BIN = '/usr/lib/postgresql/15/bin';

export interface PostgresCluster {
  /** postgres://postgres@127.0.0.1:<port>/postgres (trust auth: no password). */
  url: string;
  port: number;
  /** Creates an empty database and returns its URL: one per test keeps tests independent. */
  createDatabase(name: string): string;
  /** pg_ctl stop -m fast: the server ends every connection (57P01) and stops listening. */
  stopServer(): void;
  /** Starts the stopped server again on the same port and data directory. */
  startServer(): void;
  /** Stops the server and removes its directory. */
  stop(): void;
}

export function postgresAvailable(): boolean {
  return fs.existsSync(path.join(PG_BIN, 'initdb')) && fs.existsSync(path.join(PG_BIN, 'pg_ctl'));
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export async function startPostgres(): Promise<PostgresCluster> {
  const asRoot = process.getuid?.() === 0;
  const run = (command: string, args: string[]): void => {
    const file = path.join(PG_BIN, command);
    if (asRoot) execFileSync('runuser', ['-u', 'postgres', '--', file, ...args], { stdio: 'pipe', cwd: dir });
    else execFileSync(file, args, { stdio: 'pipe', cwd: dir });
  };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jitca-pg-'));
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    fs.chownSync(dir, uid, gid);
  }
  fs.chmodSync(dir, 0o700);
  const dataDir = path.join(dir, 'data');
  const port = await freePort();
  // --no-sync and fsync=off: this throwaway TEST cluster skips fsyncs to start and run fast; a
  // real jitca database must keep fsync on (a certificate is released only after COMMIT is durable).
  run('initdb', ['-D', dataDir, '-U', 'postgres', '-A', 'trust', '--no-sync', '--no-instructions', '-E', 'UTF8', '--locale=C']);
  const serverOptions = [
    `-p ${port}`,
    "-c listen_addresses='127.0.0.1'",
    `-c unix_socket_directories='${dir}'`,
    '-c fsync=off',
    '-c synchronous_commit=off',
    '-c full_page_writes=off',
    '-c max_connections=60',
  ].join(' ');
  const logFile = path.join(dir, 'server.log');
  const startServer = (): void => run('pg_ctl', ['-D', dataDir, '-l', logFile, '-o', serverOptions, '-w', '-t', '30', 'start']);
  const stopServer = (): void => run('pg_ctl', ['-D', dataDir, '-m', 'fast', '-w', 'stop']);
  try {
    startServer();
  } catch (error) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const urlFor = (database: string): string => `postgres://postgres@127.0.0.1:${port}/${database}`;
  let stopped = false;
  return {
    url: urlFor('postgres'),
    port,
    createDatabase(name: string): string {
      if (!/^[a-z][a-z0-9_]{0,62}$/.test(name)) throw new Error(`database name ${name} is not a plain identifier`);
      execFileSync(path.join(PG_BIN, 'psql'), ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-qAt', '-c', `create database ${name}`], {
        stdio: 'pipe',
      });
      return urlFor(name);
    },
    stopServer,
    startServer,
    stop(): void {
      if (stopped) return;
      stopped = true;
      try {
        stopServer();
      } catch {
        // already stopped (a test left it down); the directory goes either way
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
