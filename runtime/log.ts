/**
 * Logging through @logtape/logtape. The level comes from `LUNATIC_LOG` (trace, debug, info,
 * warning, error, fatal; default warning) and records go to stderr synchronously, so they
 * interleave correctly with guest output.
 */
import {
  configureSync,
  getConfig,
  getLogger,
  type Logger,
  type LogLevel,
  type LogRecord,
  parseLogLevel,
} from "@logtape/logtape";
import { writeAllSync } from "./stdio.ts";

const LEVEL_NAMES: Record<LogLevel, string> = {
  trace: "TRACE",
  debug: "DEBUG",
  info: "INFO",
  warning: "WARN",
  error: "ERROR",
  fatal: "FATAL",
};

const encoder = new TextEncoder();

/** Parses a `LUNATIC_LOG` value; throws with the accepted values on a bad one. */
export function parseLevel(value: string | undefined): LogLevel {
  if (value === undefined || value === "") return "warning";
  const normalised = value.toLowerCase() === "warn" ? "warning" : value.toLowerCase();
  try {
    return parseLogLevel(normalised);
  } catch {
    throw new Error(
      `invalid LUNATIC_LOG level "${value}" (use trace, debug, info, warning, error or fatal)`,
    );
  }
}

function formatRecord(record: LogRecord): string {
  let message = "";
  for (let i = 0; i < record.message.length; i++) {
    const part = record.message[i];
    message += typeof part === "string" ? part : String(part);
  }
  return `[${LEVEL_NAMES[record.level]} ${record.category.join("::")}] ${message}\n`;
}

/**
 * Sets up logging for the `lunatic` category unless the embedding application configured
 * logtape itself. `level` defaults to `LUNATIC_LOG`.
 */
export function setupLogging(level?: LogLevel): void {
  if (getConfig() !== null) return;
  const lowestLevel = level ?? parseLevel(Deno.env.get("LUNATIC_LOG"));
  configureSync({
    sinks: {
      stderr: (record: LogRecord) =>
        writeAllSync(Deno.stderr, encoder.encode(formatRecord(record))),
    },
    loggers: [
      { category: ["lunatic"], lowestLevel, sinks: ["stderr"] },
      { category: ["logtape", "meta"], lowestLevel: "error", sinks: ["stderr"] },
    ],
  });
}

/** The logger for a part of the runtime, e.g. `logger("process")`. */
export function logger(...category: string[]): Logger {
  return getLogger(["lunatic", ...category]);
}
