/** A small line/area chart in inline SVG (no chart library): values left to right, scaled to fit. */

export function Sparkline(p: { values: number[]; label: string; width?: number; height?: number; area?: boolean; id?: string }) {
  const w = p.width ?? 300;
  const h = p.height ?? 60;
  const pad = 2;
  const vals = p.values.length === 1 ? [p.values[0]!, p.values[0]!] : p.values;
  const max = Math.max(1, ...vals);
  const x = (i: number) => (vals.length <= 1 ? 0 : (i / (vals.length - 1)) * w);
  const y = (v: number) => h - pad - (v / max) * (h - 2 * pad);
  const line = vals.map((v, i) => `${i === 0 ? "M" : "L"}${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
  return (
    <svg class="chart" id={p.id} viewBox={`0 0 ${w} ${h}`} preserveAspectRatio="none" role="img" aria-label={p.label} data-points={p.values.length} data-max={p.values.length ? Math.max(...p.values) : 0}>
      <line class="axis" x1="0" y1={h - 0.5} x2={w} y2={h - 0.5} />
      {vals.length > 0 && (
        <>
          {p.area !== false && <path class="area" d={`${line} L${w},${h} L0,${h} Z`} />}
          <path class="line" d={line} />
        </>
      )}
    </svg>
  );
}
