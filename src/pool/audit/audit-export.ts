/**
 * Audit export formats: RFC 4180 CSV (header row, CRLF line ends, every field that holds a comma,
 * a quote, CR or LF quoted with its quotes doubled) and a JSON array. Both are produced a row at a
 * time from an async source, so a large log is never held in memory.
 */
import type { AuditEntry } from "../../protocol/audit.protocol.js";
import type { AuditRow } from "./audit.repository.js";

export const EXPORT_COLUMNS = ["seq", "at", "actor", "action", "target", "project_id", "details", "hash"] as const;

export function exportEntry(r: AuditRow): AuditEntry {
  return { seq: r.seq, at: r.at.toISOString(), actor: r.actor, action: r.action, target: r.target, project_id: r.project_id, details: r.details, hash: r.hash };
}

/** One CSV field (RFC 4180). A value starting with =, +, - or @ is prefixed with ' so a spreadsheet never runs it as a formula. */
export function csvField(value: string | number | null): string {
  if (value === null) return "";
  let s = String(value);
  if (typeof value === "string" && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function csvLine(e: AuditEntry): string {
  return `${[e.seq, e.at, e.actor, e.action, e.target, e.project_id, JSON.stringify(e.details), e.hash].map(csvField).join(",")}\r\n`;
}

export const CSV_HEADER = `${EXPORT_COLUMNS.join(",")}\r\n`;

/** CSV text, a chunk per entry (header first). */
export async function* csvChunks(rows: AsyncIterable<AuditRow>): AsyncGenerator<string> {
  yield CSV_HEADER;
  for await (const r of rows) yield csvLine(exportEntry(r));
}

/** A JSON array, a chunk per entry. */
export async function* jsonChunks(rows: AsyncIterable<AuditRow>): AsyncGenerator<string> {
  yield "[";
  let first = true;
  for await (const r of rows) {
    yield `${first ? "\n" : ",\n"}${JSON.stringify(exportEntry(r))}`;
    first = false;
  }
  yield first ? "]\n" : "\n]\n";
}
