/**
 * A process's SQLite connections and statements (`lunatic::sqlite`), on Deno's built-in SQLite
 * (`node:sqlite`'s `DatabaseSync`). IDs start at 0 in each table, as lunatic's do: lunatic-rs
 * opens its connection with a null `conn_id_ptr` and then always uses connection 0.
 *
 * `node:sqlite` has no step-by-step API; a statement steps through `iterate()`, started on the
 * first step with the values bound so far and dropped by `reset` (or after the last row, so
 * that the next step runs it again, as `sqlite3_step` does after SQLITE_DONE). Integers are
 * read as bigints, so INTEGER and REAL stay apart.
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import type { DisposableHostState } from "../../runtime/host_api.ts";
import type { SqlValue } from "./bincode.ts";

/** `setReturnArrays` is there at run time (Deno 2.9), not yet in Deno's type declarations. */
function rowsAsArrays(statement: StatementSync): void {
  (statement as StatementSync & { setReturnArrays(on: boolean): void }).setReturnArrays(true);
}

/** The connection's last error, as `conn.last()` gives it in lunatic. */
export interface SqliteFailure {
  code: number;
  message: string;
}

export class Connection {
  lastError: SqliteFailure | null = null;
  #changes: StatementSync | null = null;

  constructor(readonly db: DatabaseSync) {}

  /** `sqlite3_changes()`: rows changed by the connection's last INSERT, UPDATE or DELETE. */
  changes(): number {
    if (this.#changes === null) {
      this.#changes = this.db.prepare("SELECT changes()");
      rowsAsArrays(this.#changes);
    }
    const row = this.#changes.get() as unknown as [number] | undefined;
    return Number(row?.[0] ?? 0);
  }

  close(): void {
    this.db.close();
  }
}

export class Statement {
  /** Values bound by position (index 1 first) and by name, kept across resets. */
  readonly positional: SqlValue[] = [];
  readonly named: Record<string, SqlValue> = {};
  #rows: Iterator<unknown> | null = null;
  /** The row the last step stopped at, or null. */
  row: SqlValue[] | null = null;

  /** Its result columns' names (none: an INSERT, UPDATE, ...), read once. */
  readonly #columns: string[];

  constructor(readonly connectionId: number, readonly stmt: StatementSync) {
    stmt.setReadBigInts(true);
    rowsAsArrays(stmt);
    this.#columns = stmt.columns().map((column) => column.name);
  }

  /** One `sqlite3_step`: true for a row (100), false when done (101). Throws SQLite's error. */
  step(): boolean {
    if (this.#rows === null && this.#columns.length === 0) {
      // No rows to step through: run it (one call instead of an iterator's two).
      this.#run();
      this.row = null;
      return false;
    }
    if (this.#rows === null) {
      const anonymous = this.positional.map((value) => value ?? null);
      this.#rows = Object.keys(this.named).length > 0
        // deno-lint-ignore no-explicit-any
        ? this.stmt.iterate(this.named as any, ...(anonymous as any[]))
        // deno-lint-ignore no-explicit-any
        : this.stmt.iterate(...(anonymous as any[]));
    }
    const next = this.#rows.next();
    if (next.done) {
      this.#rows = null;
      this.row = null;
      return false;
    }
    this.row = next.value as SqlValue[];
    return true;
  }

  #run(): void {
    const anonymous = this.positional.map((value) => value ?? null);
    if (Object.keys(this.named).length > 0) {
      // deno-lint-ignore no-explicit-any
      this.stmt.run(this.named as any, ...(anonymous as any[]));
    } else {
      // deno-lint-ignore no-explicit-any
      this.stmt.run(...(anonymous as any[]));
    }
  }

  /** `sqlite3_reset`: the next step runs the statement again, with the same bindings. */
  reset(): void {
    this.#rows?.return?.();
    this.#rows = null;
    this.row = null;
  }

  columnNames(): string[] {
    return this.#columns;
  }
}

/** The `lunatic::sqlite` resources of one process; closed when it ends. */
export class SqliteState implements DisposableHostState {
  readonly connections = new Map<number, Connection>();
  readonly statements = new Map<number, Statement>();
  #nextConnection = 0;
  #nextStatement = 0;

  addConnection(connection: Connection): number {
    const id = this.#nextConnection++;
    this.connections.set(id, connection);
    return id;
  }

  addStatement(statement: Statement): number {
    const id = this.#nextStatement++;
    this.statements.set(id, statement);
    return id;
  }

  dispose(): void {
    for (const statement of this.statements.values()) statement.reset();
    this.statements.clear();
    for (const connection of this.connections.values()) {
      try {
        connection.close();
      } catch {
        // Already closed; nothing else holds it.
      }
    }
    this.connections.clear();
  }
}

export { DatabaseSync };
