/**
 * `lunatic::sqlite` (spec §1.15) on Deno's built-in SQLite (host/sqlite/connections.ts), with
 * lunatic 0.13.2's results, traps and bincode payloads (host/sqlite/bincode.ts). Results that
 * are byte strings come back in memory from the guest's `lunatic_alloc` (host/guest_alloc.ts).
 *
 * A database file may be opened only inside the caller's preopened directories, after
 * resolving `..` and symlinks (`:memory:` always; never a `file:` URI), and no SQL may ATTACH
 * another (nor VACUUM INTO one); otherwise `open` returns 1 with lunatic's error, "Failed to
 * access '<path>'". SQLite runs on the runtime's thread: a long query holds
 * every process until it returns (README: what Deno decides).
 */
import { dirname, resolve } from "node:path";
import { insideDirectories } from "../runtime/directories.ts";
import { trap } from "../runtime/errors.ts";
import { hostFn, type HostNamespace, suspendingFn } from "../runtime/host_api.ts";
import type { Process } from "../runtime/process.ts";
import { errorId } from "./error.ts";
import { writeToGuest } from "./guest_alloc.ts";
import {
  BincodeError,
  decodeBindList,
  encodeError,
  encodeRow,
  encodeStrings,
  encodeValue,
} from "./sqlite/bincode.ts";
import {
  Connection,
  DatabaseSync,
  type SqliteFailure,
  SqliteState,
  Statement,
} from "./sqlite/connections.ts";

const STATE = Symbol("lunatic::sqlite");
const SQLITE_ROW = 100;
/** The authorizer's action code for ATTACH (and VACUUM INTO), and its answers. */
const SQLITE_ATTACH = 24;
const SQLITE_OK = 0;
const SQLITE_DENY = 1;
const SQLITE_DONE = 101;

function state(p: Process): SqliteState {
  return p.hostState(STATE, () => new SqliteState());
}

function connection(p: Process, id: bigint, call: string): Connection {
  const found = state(p).connections.get(Number(BigInt.asUintN(64, id)));
  if (found === undefined) {
    trap(`lunatic::sqlite::${call}: unknown connection id ${BigInt.asUintN(64, id)}`);
  }
  return found;
}

function statement(p: Process, id: bigint, call: string): Statement {
  const found = state(p).statements.get(Number(BigInt.asUintN(64, id)));
  if (found === undefined) {
    trap(`lunatic::sqlite::${call}: unknown statement id ${BigInt.asUintN(64, id)}`);
  }
  return found;
}

/**
 * SQLite's primary result code for an error `node:sqlite` threw: its `errcode` where it gives
 * one (an extended code: the low byte is the primary), else read from the message (`exec`
 * gives none): constraint 19, busy 5, locked 6, read-only 8, full 13, mismatch 20, range 25,
 * not a database 26, malformed 11, too big 18; anything else 1 (SQLITE_ERROR).
 */
function failureOf(error: unknown): SqliteFailure {
  const message = error instanceof Error ? error.message : String(error);
  const errcode = (error as { errcode?: number }).errcode;
  if (typeof errcode === "number") return { code: errcode & 0xff, message };
  const known: [RegExp, number][] = [
    [/constraint failed/i, 19],
    [/database is locked/i, 5],
    [/database table is locked/i, 6],
    [/readonly database/i, 8],
    [/database or disk is full/i, 13],
    [/datatype mismatch/i, 20],
    [/column index out of range|bind or column index out of range/i, 25],
    [/file is not a database/i, 26],
    [/malformed/i, 11],
    [/too big/i, 18],
  ];
  return { code: known.find(([pattern]) => pattern.test(message))?.[1] ?? 1, message };
}

/** Runs `body` on `conn`; a SQLite error becomes its last error and is rethrown. */
function tracked<T>(conn: Connection, body: () => T): T {
  try {
    const result = body();
    conn.lastError = null;
    return result;
  } catch (error) {
    conn.lastError = failureOf(error);
    throw error;
  }
}

/** Whether `path` is a database this process may open (see the module comment). */
function mayOpen(p: Process, path: string): boolean {
  if (path === ":memory:" || path === "") return true;
  // A URI filename would name its file in SQLite's syntax, past the checks below.
  if (path.startsWith("file:")) return false;
  const target = followLinks(resolve(path));
  if (target === null) return false;
  let existingFile = false;
  try {
    existingFile = Deno.statSync(target).isFile;
  } catch {
    // Not there yet: SQLite will create it, in its directory.
  }
  const allowed = p.config.preopenedDirs.map((preopen) => preopen.host);
  return insideDirectories(existingFile ? target : dirname(target), allowed);
}

/**
 * Where `path` leads once its final symlinks are followed, dangling ones too (SQLite would
 * create the file they point to); null for a loop. Links in its directories are resolved by
 * the directory check itself.
 */
function followLinks(path: string): string | null {
  let current = path;
  for (let hops = 0; hops < 40; hops++) {
    let info: Deno.FileInfo;
    try {
      info = Deno.lstatSync(current);
    } catch {
      return current;
    }
    if (!info.isSymlink) return current;
    current = resolve(dirname(current), Deno.readLinkSync(current));
  }
  return null;
}

/** `execute`: one statement runs prepared (its errors carry SQLite's code), several by exec. */
function execute(conn: Connection, sql: string): void {
  const text = sql.trim();
  if (text.replace(/;/g, "").trim() === "") return;
  tracked(conn, () => {
    const prepared = conn.db.prepare(text);
    const first = prepared.sourceSQL;
    if (text.startsWith(first) && text.slice(first.length).replace(/[;\s]/g, "") === "") {
      prepared.run();
    } else {
      conn.db.exec(text);
    }
  });
}

export const sqliteNamespace: HostNamespace<Process> = {
  module: "lunatic::sqlite",
  functions: {
    open: hostFn(
      ["i32", "i32", "i32"],
      ["i64"],
      (pathPtr: number, pathLen: number, idPtr: number, p: Process) => {
        const path = p.memory.readString(pathPtr, pathLen, "database path");
        // lunatic-rs passes 0 here: the ID lands at address 0, as lunatic writes it (§9.4).
        p.memory.check(idPtr, 8);
        if (!mayOpen(p, path)) {
          p.memory.writeU64(idPtr, errorId(p, `Failed to access '${path}'`));
          return 1n;
        }
        let db: DatabaseSync;
        try {
          // SQLite's own defaults, which lunatic's bundled SQLite keeps and node:sqlite changes:
          // "double-quoted" strings are literals, foreign keys are not enforced.
          db = new DatabaseSync(path, {
            enableDoubleQuotedStringLiterals: true,
            enableForeignKeyConstraints: false,
          });
          // SQL must not reach files the open could not: no ATTACH (which VACUUM INTO uses).
          // (`setAuthorizer` is there at run time in Deno 2.9, not yet in its type declarations.)
          (db as DatabaseSync & {
            setAuthorizer(callback: (action: number) => number): void;
          }).setAuthorizer((action) => action === SQLITE_ATTACH ? SQLITE_DENY : SQLITE_OK);
        } catch (error) {
          p.memory.writeU64(idPtr, errorId(p, failureOf(error).message));
          return 1n;
        }
        p.memory.writeU64(idPtr, BigInt(state(p).addConnection(new Connection(db))));
        return 0n;
      },
    ),
    query_prepare: hostFn(
      ["i64", "i32", "i32"],
      ["i64"],
      (connId: bigint, sqlPtr: number, sqlLen: number, p: Process) => {
        const conn = connection(p, connId, "query_prepare");
        const sql = p.memory.readString(sqlPtr, sqlLen, "query");
        let prepared;
        try {
          prepared = tracked(conn, () => conn.db.prepare(sql));
        } catch (error) {
          trap(`lunatic::sqlite::query_prepare: ${failureOf(error).message}`);
        }
        const id = Number(BigInt.asUintN(64, connId));
        return BigInt(state(p).addStatement(new Statement(id, prepared)));
      },
    ),
    execute: hostFn(
      ["i64", "i32", "i32"],
      ["i32"],
      (connId: bigint, sqlPtr: number, sqlLen: number, p: Process) => {
        const conn = connection(p, connId, "execute");
        const sql = p.memory.readString(sqlPtr, sqlLen, "query");
        try {
          execute(conn, sql);
          return 0;
        } catch {
          return conn.lastError?.code ?? 1;
        }
      },
    ),
    bind_value: hostFn(
      ["i64", "i32", "i32"],
      [],
      (stmtId: bigint, ptr: number, len: number, p: Process) => {
        const stmt = statement(p, stmtId, "bind_value");
        let pairs;
        try {
          pairs = decodeBindList(p.memory.bytes(ptr, len));
        } catch (error) {
          if (error instanceof BincodeError) trap(`lunatic::sqlite::bind_value: ${error.message}`);
          throw error;
        }
        for (const { key, value } of pairs) {
          // lunatic binds a pair without an index at index 1; a name binds that parameter
          // (lunatic's also went to index 1, whatever its name).
          if (key.kind === "name") stmt.named[key.name] = value;
          else {
            const index = key.kind === "index" ? key.index : 1;
            if (index < 1) {
              trap(`lunatic::sqlite::bind_value: bind index ${index} (they start at 1)`);
            }
            while (stmt.positional.length < index - 1) stmt.positional.push(null);
            stmt.positional[index - 1] = value;
          }
        }
      },
    ),
    sqlite3_changes: hostFn(["i64"], ["i32"], (connId: bigint, p: Process) => {
      return connection(p, connId, "sqlite3_changes").changes();
    }),
    statement_reset: hostFn(["i64"], [], (stmtId: bigint, p: Process) => {
      statement(p, stmtId, "statement_reset").reset();
    }),
    last_error: suspendingFn(
      ["i64", "i32"],
      ["i32"],
      (connId: bigint, lenPtr: number, p: Process) => {
        const failure = connection(p, connId, "last_error").lastError;
        if (failure === null) trap("lunatic::sqlite::last_error: the connection has no error");
        return writeToGuest(p, encodeError(failure.code, failure.message), lenPtr);
      },
    ),
    sqlite3_finalize: hostFn(["i64"], [], (stmtId: bigint, p: Process) => {
      const stmt = statement(p, stmtId, "sqlite3_finalize");
      stmt.reset();
      state(p).statements.delete(Number(BigInt.asUintN(64, stmtId)));
    }),
    sqlite3_step: hostFn(["i64"], ["i32"], (stmtId: bigint, p: Process) => {
      const stmt = statement(p, stmtId, "sqlite3_step");
      const conn = connection(p, BigInt(stmt.connectionId), "sqlite3_step");
      try {
        return tracked(conn, () => stmt.step()) ? SQLITE_ROW : SQLITE_DONE;
      } catch (error) {
        trap(`lunatic::sqlite::sqlite3_step: ${failureOf(error).message}`);
      }
    }),
    read_column: suspendingFn(
      ["i64", "i32", "i32"],
      ["i32"],
      (stmtId: bigint, column: number, lenPtr: number, p: Process) => {
        const stmt = statement(p, stmtId, "read_column");
        const count = stmt.columnNames().length;
        if (column < 0 || column >= count) {
          trap(`lunatic::sqlite::read_column: column ${column} of ${count}`);
        }
        return writeToGuest(p, encodeValue(stmt.row?.[column] ?? null), lenPtr);
      },
    ),
    column_names: suspendingFn(
      ["i64", "i32"],
      ["i32"],
      (stmtId: bigint, lenPtr: number, p: Process) => {
        const names = statement(p, stmtId, "column_names").columnNames();
        return writeToGuest(p, encodeStrings(names), lenPtr);
      },
    ),
    read_row: suspendingFn(
      ["i64", "i32"],
      ["i32"],
      (stmtId: bigint, lenPtr: number, p: Process) => {
        const stmt = statement(p, stmtId, "read_row");
        const row = stmt.row ?? stmt.columnNames().map(() => null);
        return writeToGuest(p, encodeRow(row), lenPtr);
      },
    ),
    column_count: hostFn(["i64"], ["i32"], (stmtId: bigint, p: Process) => {
      return statement(p, stmtId, "column_count").columnNames().length;
    }),
    column_name: suspendingFn(
      ["i64", "i32", "i32"],
      ["i32"],
      (stmtId: bigint, column: number, lenPtr: number, p: Process) => {
        const names = statement(p, stmtId, "column_name").columnNames();
        if (column < 0 || column >= names.length) {
          trap(`lunatic::sqlite::column_name: column ${column} of ${names.length}`);
        }
        // Raw UTF-8, not bincode (lunatic's).
        return writeToGuest(p, new TextEncoder().encode(names[column]), lenPtr);
      },
    ),
  },
};
