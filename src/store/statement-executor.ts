/**
 * How the batch writer runs its compiled statements (compiled-statement.ts) inside the
 * transaction it holds. The portable executor hands them to kysely on that transaction, so any
 * dialect works (PostgreSQL included). database.ts has a faster one for SQLite; see there why.
 */
import { CompiledQuery } from 'kysely';
import type { StoreDb } from './schema.ts';

/** Each method either returns or throws the driver's error (synchronously or by rejecting). */
export interface StatementExecutor {
  /** Runs a statement that returns no rows. */
  run(sql: string, parameters: unknown[]): void | Promise<void>;
  /** Runs a query and returns its rows. */
  rows<Row>(sql: string, parameters: unknown[]): Row[] | Promise<Row[]>;
}

/** The executor for one open transaction: statements must run on that transaction's connection. */
export type StatementExecutorFactory = (transaction: StoreDb) => StatementExecutor;

/** Runs statements through kysely on the transaction, as CompiledQuery.raw (no building or compiling). */
export const kyselyStatementExecutor: StatementExecutorFactory = (transaction) => ({
  async run(sql: string, parameters: unknown[]): Promise<void> {
    await transaction.executeQuery(CompiledQuery.raw(sql, parameters));
  },
  async rows<Row>(sql: string, parameters: unknown[]): Promise<Row[]> {
    return (await transaction.executeQuery<Row>(CompiledQuery.raw(sql, parameters))).rows;
  },
});
