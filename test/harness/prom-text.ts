/**
 * Reading a Prometheus text exposition in tests. prom-client 15 (the library that writes it) has no
 * parser, so the text is checked twice: by Prometheus's own `promtool check metrics` (Debian's
 * prometheus package; .ci/run installs it), which parses and lints it the way the server would,
 * then read here into samples for the assertions (a strict reader for the subset prom-client writes:
 * `# HELP`, `# TYPE`, `name{l="v",...} value`).
 */
import { spawnSync } from "node:child_process";

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Exposition {
  /** Metric family → type (counter, gauge, histogram, summary, untyped). */
  types: Map<string, string>;
  samples: Sample[];
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?\s*/y;

function unescape(v: string): string {
  return v.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
}

function parseValue(v: string): number {
  // As Prometheus reads them (Go's ParseFloat: any case; prom-client writes "Nan" for an empty event-loop histogram).
  if (/^\+?inf$/i.test(v)) return Infinity;
  if (/^-inf$/i.test(v)) return -Infinity;
  if (/^nan$/i.test(v)) return NaN;
  const n = Number(v);
  if (Number.isNaN(n)) throw new Error(`not a sample value: ${v}`);
  return n;
}

export function parseExposition(text: string): Exposition {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    if (line.startsWith("#")) {
      const m = /^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$/.exec(line);
      if (m) types.set(m[1]!, m[2]!);
      else if (!line.startsWith("# HELP ")) throw new Error(`unexpected comment line: ${line}`);
      continue;
    }
    const m = LINE.exec(line);
    if (!m) throw new Error(`unparsable sample line: ${line}`);
    const labels: Record<string, string> = {};
    const body = m[2] ?? "";
    LABEL.lastIndex = 0;
    while (LABEL.lastIndex < body.length) {
      const start = LABEL.lastIndex;
      const l = LABEL.exec(body);
      if (!l || LABEL.lastIndex === start) throw new Error(`unparsable labels: ${line}`);
      labels[l[1]!] = unescape(l[2]!);
    }
    samples.push({ name: m[1]!, labels, value: parseValue(m[3]!) });
  }
  return { types, samples };
}

/**
 * `promtool check metrics` on the text. `parsed`: Prometheus's parser read it (exit 0, or 3 = lint
 * complaints only; 1 = a parsing error). `complaints`: the linter's lines, one per problem.
 */
export function promtoolCheck(text: string): { parsed: boolean; complaints: string[]; output: string } {
  const r = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
  if (r.error) throw new Error(`promtool is needed (Debian's prometheus package): ${r.error.message}`);
  const output = `${r.stdout}${r.stderr}`.trim();
  return { parsed: r.status === 0 || r.status === 3, complaints: output ? output.split("\n") : [], output };
}

/** The sum of the samples named `name` whose labels include `match`. */
export function sum(e: Exposition, name: string, match: Record<string, string> = {}): number {
  return e.samples.filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v)).reduce((n, s) => n + s.value, 0);
}

/** Metric families a PromQL expression names (histogram series folded to their family). */
export function familiesOf(expr: string): string[] {
  const names = expr.match(/\b(?:cellule|process|nodejs)_[a-zA-Z0-9_]+/g) ?? [];
  return [...new Set(names.map((n) => n.replace(/_(bucket|sum|count)$/, "")))];
}
