/**
 * Metrics as lunatic keeps them (the Rust `metrics` facade with metrics-exporter-prometheus
 * 0.11 behind `--prometheus`): counters, gauges and histograms by name and labels, rendered in
 * the Prometheus text format. Guests feed them through `lunatic::metrics`; the runtime adds
 * its own (runtime_metrics.ts).
 *
 * Names are sanitized as the exporter does: characters other than ASCII letters, digits, `_`
 * and `:` become `_` (`lunatic.process.alive` is `lunatic_process_alive`; lunatic-rs's
 * `lunatic::metrics_example::counter` stays as it is), as does a first character that is a
 * digit.
 * Histograms are summaries, as the exporter renders them without configured buckets: the
 * quantiles 0, 0.5, 0.9, 0.95, 0.99, 0.999 and 1 over the last {@link SUMMARY_WINDOW} values,
 * and the sum and count of all.
 */

/** Labels of one series, e.g. `{ environment_id: "1" }`. */
export type Labels = Readonly<Record<string, string>>;

/** How many recent observations a summary computes its quantiles from. */
export const SUMMARY_WINDOW = 4096;

const QUANTILES = [0, 0.5, 0.9, 0.95, 0.99, 0.999, 1];

interface Summary {
  window: number[];
  next: number;
  sum: number;
  count: number;
}

type Kind = "counter" | "gauge" | "summary";

interface Family<V> {
  kind: Kind;
  series: Map<string, { labels: Labels; value: V }>;
}

/** A metric name the exporter accepts. */
export function sanitizeMetricName(name: string): string {
  let out = "";
  for (let i = 0; i < name.length; i++) {
    const c = name[i];
    const valid = /[A-Za-z_:]/.test(c) || (i > 0 && /[0-9]/.test(c));
    out += valid ? c : "_";
  }
  return out === "" ? "_" : out;
}

/** A label name Prometheus accepts: as a metric name, but without `:` (reserved there). */
export function sanitizeLabelName(name: string): string {
  return sanitizeMetricName(name).replace(/:/g, "_");
}

/** The key of one series: its labels sorted, encoded so that no two label sets share one. */
function labelKey(labels: Labels): string {
  return JSON.stringify(Object.keys(labels).sort().map((key) => [key, labels[key]]));
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

export class MetricsRegistry {
  readonly #families = new Map<string, Family<number> | Family<Summary>>();

  #series<V>(name: string, kind: Kind, labels: Labels, initial: () => V): { value: V } {
    const key = sanitizeMetricName(name);
    let family = this.#families.get(key) as Family<V> | undefined;
    if (family === undefined) {
      family = { kind, series: new Map() };
      this.#families.set(key, family as Family<number> | Family<Summary>);
    } else if (family.kind !== kind) {
      // The exporter keeps the first kind a name was used as; so do we.
      return { value: initial() };
    }
    const lk = labelKey(labels);
    let series = family.series.get(lk);
    if (series === undefined) family.series.set(lk, series = { labels, value: initial() });
    return series;
  }

  /** Adds `by` to a counter. */
  increment(name: string, by = 1, labels: Labels = {}): void {
    const series = this.#series(name, "counter", labels, () => 0);
    series.value += by;
  }

  /** Sets a gauge. */
  set(name: string, value: number, labels: Labels = {}): void {
    this.#series(name, "gauge", labels, () => 0).value = value;
  }

  /** Adds `by` (which may be negative) to a gauge. */
  add(name: string, by: number, labels: Labels = {}): void {
    this.#series(name, "gauge", labels, () => 0).value += by;
  }

  /** Records an observation of a histogram. */
  observe(name: string, value: number, labels: Labels = {}): void {
    const summary = this.#series<Summary>(
      name,
      "summary",
      labels,
      () => ({ window: [], next: 0, sum: 0, count: 0 }),
    ).value;
    if (summary.window.length < SUMMARY_WINDOW) summary.window.push(value);
    else summary.window[summary.next] = value;
    summary.next = (summary.next + 1) % SUMMARY_WINDOW;
    summary.sum += value;
    summary.count++;
  }

  /** The Prometheus text format (version 0.0.4), with `globalLabels` on every series. */
  render(globalLabels: Labels = {}): string {
    const lines: string[] = [];
    const names = [...this.#families.keys()].sort();
    for (const name of names) {
      const family = this.#families.get(name)!;
      lines.push(`# TYPE ${name} ${family.kind}`);
      for (const { labels, value } of family.series.values()) {
        const all = { ...globalLabels, ...labels };
        if (family.kind === "summary") {
          const summary = value as Summary;
          const sorted = [...summary.window].sort((a, b) => a - b);
          for (const q of QUANTILES) {
            const at = sorted.length === 0 ? NaN : sorted[
              Math.min(
                sorted.length - 1,
                Math.max(0, Math.ceil(q * sorted.length) - 1),
              )
            ];
            lines.push(`${name}${render({ ...all, quantile: String(q) })} ${formatValue(at)}`);
          }
          lines.push(`${name}_sum${render(all)} ${formatValue(summary.sum)}`);
          lines.push(`${name}_count${render(all)} ${summary.count}`);
        } else {
          lines.push(`${name}${render(all)} ${formatValue(value as number)}`);
        }
      }
      lines.push("");
    }
    return lines.join("\n");
  }
}

function render(labels: Labels): string {
  const keys = Object.keys(labels);
  if (keys.length === 0) return "";
  return `{${
    keys.map((key) => `${sanitizeLabelName(key)}="${escapeLabel(labels[key])}"`).join(",")
  }}`;
}
