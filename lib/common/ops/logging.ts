/** The one logger setup: LogTape to stderr or a file, as text or JSON lines. */
import {
  configure,
  dispose,
  getLogger,
  getTextFormatter,
  jsonLinesFormatter,
  parseLogLevel,
} from "@logtape/logtape";
import type { Logger, LogLevel, LogRecord, Sink } from "@logtape/logtape";

import { printable } from "./printable.ts";

export type { Logger };

/** Logging options shared by both programs' CLIs. */
export interface LogOptions {
  level: string;
  format: "text" | "json";
  file?: string;
  /** Include stack traces of errors. */
  exc?: boolean;
  /** Where formatted lines go instead of stderr or `file` (tests that run a server in-process). */
  write?: (line: string) => void;
}

/** The level names accepted by `--log-level`. */
export const LOG_LEVELS = ["trace", "debug", "info", "warning", "error", "fatal"];

/**
 * Configures LogTape once for the process.
 *
 * @throws {Error} when the level is unknown or the log file cannot be opened
 */
export async function setupLogging(options: LogOptions): Promise<void> {
  const level: LogLevel = parseLogLevel(options.level);
  const textFormatter = getTextFormatter({
    timestamp: "date-time-timezone",
    value: (v) => formatValue(v, options.exc ?? false),
  });
  const format = options.format === "json"
    ? (record: LogRecord) => jsonLinesFormatter(withoutStacks(record, options.exc ?? false))
    : textFormatter;
  const write = options.write ?? writerTo(options.file);
  const sink: Sink = (record) => write(format(record));
  await configure({
    reset: true,
    sinks: { main: sink },
    loggers: [
      { category: ["swiftproxy"], lowestLevel: level, sinks: ["main"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["main"] },
    ],
  });
}

/** Flushes and closes the logging sinks (before exit). */
export function stopLogging(): Promise<void> {
  return dispose();
}

/** A logger under the `swiftproxy` category. */
export function logger(...category: string[]): Logger {
  return getLogger(["swiftproxy", ...category]);
}

/** Writes lines to `file` (appending, mode 0600) or, without one, to stderr. */
function writerTo(file: string | undefined): (line: string) => void {
  const output = file
    ? Deno.openSync(file, { append: true, create: true, mode: 0o600 })
    : Deno.stderr;
  const encoder = new TextEncoder();
  return (line) => output.writeSync(encoder.encode(line));
}

/**
 * A value as text logs show it: on one line, control characters escaped (a domain with a LF
 * from the network must not forge a line). Only a stack trace (`--exc`) keeps its newlines,
 * after its escaped message.
 */
function formatValue(value: unknown, exc: boolean): string {
  if (value instanceof Error) {
    const message = printable(value.message);
    const stack = value.stack ?? "";
    const head = `${value.name}: ${value.message}`;
    if (!exc) return message;
    return stack.startsWith(head)
      ? `${value.name}: ${message}${stack.slice(head.length)}`
      : printable(stack);
  }
  if (typeof value === "string") return printable(value);
  return Deno.inspect(value, { colors: false, compact: true, breakLength: Infinity });
}

function withoutStacks(record: LogRecord, exc: boolean): LogRecord {
  if (exc) return record;
  const properties = Object.fromEntries(
    Object.entries(record.properties).map((
      [k, v],
    ) => [k, v instanceof Error ? `${v.name}: ${v.message}` : v]),
  );
  return { ...record, properties };
}
