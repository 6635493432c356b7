/**
 * A strict parser of the Prometheus text exposition format (version 0.0.4): every line must be a
 * `# HELP`, a `# TYPE` or a sample of a family whose TYPE came first; names, label names, label
 * escapes and values are checked; a series may appear once. Throws on anything else, so a test
 * that scrapes `/metrics` also proves what Prometheus would accept.
 */
export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface Sample {
  /** The sample's own name (`x_bucket`, `x_sum`, `x_count` for histogram `x`). */
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface MetricFamily {
  name: string;
  type: MetricType;
  help: string;
  samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set<MetricType>(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

export function parsePrometheusText(text: string): Map<string, MetricFamily> {
  const families = new Map<string, MetricFamily>();
  const seen = new Set<string>();
  if (text.length > 0 && !text.endsWith('\n')) throw new Error('exposition must end with a newline');
  const lines = text.split('\n');
  lines.pop();
  lines.forEach((line, i) => {
    const where = `line ${i + 1}: ${line}`;
    if (line === '') return;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (!m) {
        if (/^# (HELP|TYPE)\b/.test(line)) throw new Error(`malformed ${where}`);
        return; // a comment
      }
      const [, kind, name, rest] = m;
      if (!METRIC_NAME.test(name)) throw new Error(`bad metric name, ${where}`);
      const family = families.get(name) ?? { name, type: 'untyped' as MetricType, help: '', samples: [] };
      if (kind === 'TYPE') {
        if (!TYPES.has(rest as MetricType)) throw new Error(`bad type, ${where}`);
        if (families.has(name) && family.samples.length > 0) throw new Error(`TYPE after samples, ${where}`);
        family.type = rest as MetricType;
      } else {
        family.help = rest.replace(/\\n/g, '\n').replace(/\\\\/g, '\\');
      }
      families.set(name, family);
      return;
    }
    const sample = parseSample(line, where);
    const family = familyOf(families, sample.name);
    if (!family) throw new Error(`sample of an undeclared family, ${where}`);
    const key = sample.name + JSON.stringify(Object.entries(sample.labels).sort());
    if (seen.has(key)) throw new Error(`duplicate series, ${where}`);
    seen.add(key);
    family.samples.push(sample);
  });
  return families;
}

function familyOf(families: Map<string, MetricFamily>, sampleName: string): MetricFamily | undefined {
  const exact = families.get(sampleName);
  if (exact) return exact;
  const m = /^(.*)_(bucket|sum|count)$/.exec(sampleName);
  const base = m && families.get(m[1]);
  if (base && (base.type === 'histogram' || (base.type === 'summary' && m[2] !== 'bucket'))) return base;
  return undefined;
}

function parseSample(line: string, where: string): Sample {
  const nameMatch = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line);
  if (!nameMatch) throw new Error(`bad sample name, ${where}`);
  const name = nameMatch[0];
  let i = name.length;
  const labels: Record<string, string> = {};
  if (line[i] === '{') {
    i++;
    while (line[i] !== '}') {
      const ln = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(line.slice(i));
      if (!ln || !LABEL_NAME.test(ln[0])) throw new Error(`bad label name, ${where}`);
      i += ln[0].length;
      if (line.slice(i, i + 2) !== '="') throw new Error(`expected =", ${where}`);
      i += 2;
      let value = '';
      for (;;) {
        const c = line[i];
        if (c === undefined) throw new Error(`unterminated label value, ${where}`);
        if (c === '"') break;
        if (c === '\\') {
          const e = line[i + 1];
          if (e === 'n') value += '\n';
          else if (e === '\\' || e === '"') value += e;
          else throw new Error(`bad escape \\${e}, ${where}`);
          i += 2;
        } else {
          value += c;
          i++;
        }
      }
      i++;
      if (ln[0] in labels) throw new Error(`duplicate label ${ln[0]}, ${where}`);
      labels[ln[0]] = value;
      if (line[i] === ',') i++;
      else if (line[i] !== '}') throw new Error(`expected , or }, ${where}`);
    }
    i++;
  }
  const rest = line.slice(i);
  const m = /^ (\S+)( -?\d+)?$/.exec(rest);
  if (!m) throw new Error(`bad value part, ${where}`);
  const raw = m[1];
  // As Prometheus reads values (Go's ParseFloat): NaN and Inf in any letter case (prom-client writes `Nan`).
  const special = /^([+-]?)(inf|infinity|nan)$/i.exec(raw);
  const value = special
    ? special[2].toLowerCase() === 'nan'
      ? NaN
      : (special[1] === '-' ? -1 : 1) * Infinity
    : /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(raw)
      ? Number(raw)
      : NaN;
  if (Number.isNaN(value) && !special) throw new Error(`bad value, ${where}`);
  return { name, labels, value };
}

/** The value of the one sample `name` whose labels include `labels`; throws when none or several. */
export function sampleValue(
  families: Map<string, MetricFamily>,
  name: string,
  labels: Record<string, string> = {},
): number {
  const family = familyOf(families, name);
  const hits = (family?.samples ?? []).filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  if (hits.length !== 1) throw new Error(`${hits.length} samples of ${name}${JSON.stringify(labels)}`);
  return hits[0].value;
}

/** Every label value of every sample. */
export function allLabelValues(families: Map<string, MetricFamily>): string[] {
  return [...families.values()].flatMap((f) => f.samples.flatMap((s) => Object.values(s.labels)));
}
