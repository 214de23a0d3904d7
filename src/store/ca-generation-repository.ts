import { compileStatement } from './compiled-statement.ts';
import type { CaGenerationsTable, StoreDb } from './schema.ts';
import type { StatementExecutor } from './statement-executor.ts';
import type { CaGeneration, CaGenerationState, CaKind } from './types.ts';

const COLUMNS = {
  ca: true,
  generation: true,
  state: true,
  key_id: true,
  algorithm: true,
  public_key: true,
  created_at: true,
  activated_at: true,
  retiring_at: true,
  retired_at: true,
} as const satisfies Record<keyof CaGenerationsTable, true>;

export type CaGenerationUpsert = (executor: StatementExecutor, generation: CaGeneration) => Promise<void>;

/**
 * Inserts a generation, or moves an existing one on (state and dates). The key, its algorithm
 * and public key never change once written: a generation is one key for its whole life.
 */
export function compileCaGenerationUpsert(db: StoreDb): CaGenerationUpsert {
  const statement = compileStatement<CaGenerationsTable>(COLUMNS, (row) =>
    db
      .insertInto('ca_generations')
      .values(row)
      .onConflict((conflict) =>
        conflict.columns(['ca', 'generation']).doUpdateSet((eb) => ({
          state: eb.ref('excluded.state'),
          activated_at: eb.ref('excluded.activated_at'),
          retiring_at: eb.ref('excluded.retiring_at'),
          retired_at: eb.ref('excluded.retired_at'),
        })),
      ),
  );
  return async (executor, generation) => {
    await executor.run(
      statement.sql,
      statement.bind({
        ca: generation.ca,
        generation: generation.generation,
        state: generation.state,
        key_id: generation.keyId,
        algorithm: generation.algorithm,
        public_key: generation.publicKey,
        created_at: generation.createdAt,
        activated_at: generation.activatedAt ?? null,
        retiring_at: generation.retiringAt ?? null,
        retired_at: generation.retiredAt ?? null,
      }),
    );
  };
}

export async function listCaGenerations(db: StoreDb): Promise<CaGeneration[]> {
  const rows = await db.selectFrom('ca_generations').selectAll().orderBy('ca').orderBy('generation').execute();
  return rows.map((row) => ({
    ca: row.ca as CaKind,
    generation: Number(row.generation),
    state: row.state as CaGenerationState,
    keyId: row.key_id,
    algorithm: row.algorithm,
    publicKey: row.public_key,
    createdAt: row.created_at,
    ...(row.activated_at === null ? {} : { activatedAt: row.activated_at }),
    ...(row.retiring_at === null ? {} : { retiringAt: row.retiring_at }),
    ...(row.retired_at === null ? {} : { retiredAt: row.retired_at }),
  }));
}
