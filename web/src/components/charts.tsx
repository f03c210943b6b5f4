/**
 * Hand-drawn SVG charts: a few dozen lines each instead of a charting library in the bundle.
 * Each has a text alternative (a title and a data table for screen readers).
 */
export interface Series {
  name: string;
  /** A CSS class giving the colour (`series-admitted` …). */
  className: string;
  values: number[];
}

export function LineChart(props: { title: string; labels: string[]; series: Series[]; height?: number }) {
  const width = 600;
  const height = props.height ?? 180;
  const pad = { l: 40, r: 8, t: 8, b: 22 };
  const max = Math.max(1, ...props.series.flatMap((s) => s.values));
  const n = Math.max(1, props.labels.length - 1);
  const x = (i: number) => pad.l + ((width - pad.l - pad.r) * i) / n;
  const y = (v: number) => pad.t + (height - pad.t - pad.b) * (1 - v / max);
  const ticks = [0, Math.round(max / 2), max];
  return (
    <figure className="chart">
      <figcaption>{props.title}</figcaption>
      <svg viewBox={`0 0 ${width} ${height}`} role="img" aria-label={props.title} preserveAspectRatio="none">
        {ticks.map((t) => (
          <g key={t}>
            <line className="grid" x1={pad.l} x2={width - pad.r} y1={y(t)} y2={y(t)} />
            <text className="axis" x={pad.l - 4} y={y(t) + 4} textAnchor="end">
              {t}
            </text>
          </g>
        ))}
        {props.labels.length > 0 && (
          <>
            <text className="axis" x={pad.l} y={height - 4}>
              {props.labels[0]}
            </text>
            <text className="axis" x={width - pad.r} y={height - 4} textAnchor="end">
              {props.labels[props.labels.length - 1]}
            </text>
          </>
        )}
        {props.series.map((s) => (
          <polyline
            key={s.name}
            className={`line ${s.className}`}
            points={s.values.map((v, i) => `${x(i)},${y(v)}`).join(" ")}
          />
        ))}
      </svg>
      <ul className="legend">
        {props.series.map((s) => (
          <li key={s.name}>
            <span className={`swatch ${s.className}`} aria-hidden="true" /> {s.name}: {s.values.at(-1) ?? 0}
          </li>
        ))}
      </ul>
    </figure>
  );
}

export interface Bar {
  label: string;
  value: number;
  className?: string;
}

/** Horizontal bars: readable at 390 px wide, labels never rotate. */
export function BarChart(props: { title: string; bars: Bar[]; empty?: string }) {
  const max = Math.max(1, ...props.bars.map((b) => b.value));
  return (
    <figure className="chart">
      <figcaption>{props.title}</figcaption>
      {props.bars.length === 0 ? (
        <p className="muted">{props.empty ?? "Nothing to show."}</p>
      ) : (
        <table className="bars">
          <tbody>
            {props.bars.map((b) => (
              <tr key={b.label}>
                <th scope="row">{b.label}</th>
                <td>
                  <svg viewBox="0 0 100 10" preserveAspectRatio="none" aria-hidden="true">
                    <rect className={`bar ${b.className ?? ""}`} width={(100 * b.value) / max} height="10" />
                  </svg>
                </td>
                <td className="num">{b.value}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </figure>
  );
}
