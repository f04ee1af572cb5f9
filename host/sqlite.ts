/**
 * `lunatic::sqlite`: linked so that lunatic-rs binaries built with the `sqlite` feature
 * instantiate; the implementation comes with its own issue.
 */
import type { HostNamespace } from "../runtime/host_api.ts";
import { notSupported } from "./not_supported.ts";

export const sqliteNamespace: HostNamespace = {
  module: "lunatic::sqlite",
  functions: notSupported("lunatic::sqlite", {
    open: "i32,i32,i32 -> i64",
    query_prepare: "i64,i32,i32 -> i64",
    execute: "i64,i32,i32 -> i32",
    bind_value: "i64,i32,i32 ->",
    sqlite3_changes: "i64 -> i32",
    statement_reset: "i64 ->",
    last_error: "i64,i32 -> i32",
    sqlite3_finalize: "i64 ->",
    sqlite3_step: "i64 -> i32",
    read_column: "i64,i32,i32 -> i32",
    column_names: "i64,i32 -> i32",
    read_row: "i64,i32 -> i32",
    column_count: "i64 -> i32",
    column_name: "i64,i32,i32 -> i32",
  }),
};
