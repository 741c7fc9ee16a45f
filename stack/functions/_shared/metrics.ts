// Per-function request count, error count and latency histogram, in Prometheus' text format.

const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

interface Series {
  byStatus: Map<number, number>;
  errors: number;
  buckets: number[];
  sum: number;
  count: number;
}

const series = new Map<string, Series>();

function of(fn: string): Series {
  let found = series.get(fn);
  if (!found) {
    found = { byStatus: new Map(), errors: 0, buckets: BUCKETS.map(() => 0), sum: 0, count: 0 };
    series.set(fn, found);
  }
  return found;
}

/** Record one answered request; a status of 500 or above counts as an error. */
export function observe(fn: string, status: number, seconds: number): void {
  const s = of(fn);
  s.byStatus.set(status, (s.byStatus.get(status) ?? 0) + 1);
  if (status >= 500) s.errors += 1;
  BUCKETS.forEach((le, i) => {
    if (seconds <= le) s.buckets[i] += 1;
  });
  s.sum += seconds;
  s.count += 1;
}

function label(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

/** The exposition text (version 0.0.4). */
export function render(): string {
  const lines = [
    "# HELP sobertube_function_requests_total Requests answered, per function and status.",
    "# TYPE sobertube_function_requests_total counter",
  ];
  const names = [...series.keys()].sort();
  for (const fn of names) {
    for (const [status, n] of [...of(fn).byStatus].sort((a, b) => a[0] - b[0])) {
      lines.push(`sobertube_function_requests_total{function="${label(fn)}",status="${status}"} ${n}`);
    }
  }
  lines.push(
    "# HELP sobertube_function_errors_total Requests answered with a 5xx status, per function.",
    "# TYPE sobertube_function_errors_total counter",
  );
  for (const fn of names) {
    lines.push(`sobertube_function_errors_total{function="${label(fn)}"} ${of(fn).errors}`);
  }
  lines.push(
    "# HELP sobertube_function_duration_seconds Time to answer, per function.",
    "# TYPE sobertube_function_duration_seconds histogram",
  );
  for (const fn of names) {
    const s = of(fn);
    const f = label(fn);
    BUCKETS.forEach((le, i) => {
      lines.push(`sobertube_function_duration_seconds_bucket{function="${f}",le="${le}"} ${s.buckets[i]}`);
    });
    lines.push(`sobertube_function_duration_seconds_bucket{function="${f}",le="+Inf"} ${s.count}`);
    lines.push(`sobertube_function_duration_seconds_sum{function="${f}"} ${s.sum}`);
    lines.push(`sobertube_function_duration_seconds_count{function="${f}"} ${s.count}`);
  }
  return lines.join("\n") + "\n";
}
