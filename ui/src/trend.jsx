// A trend chart of one element from the history API (uPlot): raw points up to 15 minutes, buckets
// (avg with min and max) beyond; live values from the asset's event stream are appended; drag to
// zoom (or the buttons, for keyboards), double-click or "Reset zoom" to return.
import { useEffect, useRef, useState } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { b64, request } from "./api.js";
import { leaf } from "./format.js";

export const RANGES = [["5 min", 300], ["15 min", 900], ["1 h", 3600], ["8 h", 28800], ["24 h", 86400], ["7 d", 604800]];
const RAW_UP_TO_S = 900;
const BUCKETS = 600;
const HEIGHT = 220;

function numeric(v) {
  if (typeof v === "boolean") return v ? 1 : 0;
  return typeof v === "number" ? v : null;
}

function options(width, row, bucketed, onZoom) {
  const line = { stroke: "#0b57d0", width: 1.5, points: { show: false } };
  const series = bucketed
    ? [{}, { ...line, label: "avg" }, { label: "min", stroke: "#7a8ca8", width: 1, dash: [4, 3] },
       { label: "max", stroke: "#7a8ca8", width: 1, dash: [4, 3] }]
    : [{}, { ...line, label: leaf(row.idShortPath) }];
  return {
    width,
    height: HEIGHT,
    series,
    scales: { x: { time: true } },
    axes: [{ stroke: "#333", grid: { stroke: "#e3e3e3" } },
           { stroke: "#333", grid: { stroke: "#e3e3e3" }, label: row.unit || "", size: 60 }],
    cursor: { drag: { x: true, y: false } },
    legend: { live: true },
    hooks: { setSelect: [(u) => { if (u.select.width > 0) onZoom(true); }] },
  };
}

export function Trend({ row, register }) {
  const box = useRef(null);
  const plot = useRef(null);
  const data = useRef([[], []]);
  const zoomed = useRef(false);
  const [range, setRange] = useState(900);
  const [count, setCount] = useState(0);
  const [status, setStatus] = useState("Loading history…");
  const bucketed = range > RAW_UP_TO_S;
  const setZoomed = (yes) => { zoomed.current = yes; };

  const draw = (resetScales) => {
    if (plot.current) plot.current.setData(data.current, resetScales);
    setCount(data.current[0].length);
  };

  useEffect(() => {
    const controller = new AbortController();
    const from = new Date(Date.now() - range * 1000).toISOString();
    const path = `/history/submodels/${b64(row.submodelId)}/submodel-elements/${encodeURIComponent(row.idShortPath)}`;
    const query = bucketed
      ? `from=${from}&interval=PT${Math.ceil(range / BUCKETS)}S&aggregate=avg,min,max`
      : `from=${from}&limit=20000`;
    setStatus("Loading history…");
    request(`${path}?${query}`, { signal: controller.signal }).then((body) => {
      const xs = [];
      const columns = bucketed ? [[], [], []] : [[]];
      for (const point of body.result) {
        if (bucketed) {
          if (point.avg === null || point.avg === undefined) continue;
          xs.push(Date.parse(point.start) / 1000);
          columns[0].push(point.avg); columns[1].push(point.min); columns[2].push(point.max);
        } else {
          const y = numeric(point.value);
          if (y === null) continue;
          xs.push(Date.parse(point.timestamp) / 1000);
          columns[0].push(y);
        }
      }
      data.current = [xs, ...columns];
      if (plot.current) plot.current.destroy();
      zoomed.current = false;
      plot.current = new uPlot(options(box.current.clientWidth || 600, row, bucketed, setZoomed), data.current, box.current);
      setCount(xs.length);
      setStatus(xs.length ? "" : "No history in this range yet.");
    }).catch((error) => { if (error.name !== "AbortError") setStatus(error.message); });
    return () => controller.abort();
  }, [row.key, range]);

  useEffect(() => () => { if (plot.current) plot.current.destroy(); plot.current = null; }, []);

  useEffect(() => {
    const observer = new ResizeObserver(() => {
      if (plot.current && box.current) plot.current.setSize({ width: box.current.clientWidth, height: HEIGHT });
    });
    observer.observe(box.current);
    return () => observer.disconnect();
  }, []);

  useEffect(() => register(row.key, (latest) => {
    const y = numeric(latest.value);
    if (bucketed || y === null || !plot.current) return;
    const [xs, ys] = data.current;
    const x = Date.parse(latest.timestamp) / 1000;
    if (xs.length && x <= xs[xs.length - 1]) return;
    xs.push(x); ys.push(y);
    const oldest = x - range;
    let drop = 0;
    while (drop < xs.length && xs[drop] < oldest) drop += 1;
    if (drop) { xs.splice(0, drop); ys.splice(0, drop); }
    draw(!zoomed.current);
  }), [row.key, range]);

  const zoom = (factor) => {
    const u = plot.current;
    if (!u) return;
    const { min, max } = u.scales.x;
    const middle = (min + max) / 2;
    const half = ((max - min) / 2) * factor;
    zoomed.current = true;
    u.setScale("x", { min: middle - half, max: middle + half });
  };
  const reset = () => { zoomed.current = false; draw(true); };
  const name = leaf(row.idShortPath);
  return (
    <figure class="trend" data-points={count} data-path={row.idShortPath} aria-label={`Trend of ${name}`}>
      <figcaption>
        <strong>{name}</strong>{row.unit ? ` (${row.unit})` : ""} · {count} {bucketed ? "buckets" : "points"}
        <span class="trend-tools" role="group" aria-label={`Time range of ${name}`}>
          {RANGES.map(([label, seconds]) => (
            <button key={seconds} type="button" aria-pressed={String(seconds === range)} onClick={() => setRange(seconds)}>
              {label}
            </button>
          ))}
          <button type="button" onClick={() => zoom(0.5)} aria-label={`Zoom in on ${name}`}>+</button>
          <button type="button" onClick={() => zoom(2)} aria-label={`Zoom out of ${name}`}>−</button>
          <button type="button" onClick={reset}>Reset zoom</button>
        </span>
      </figcaption>
      <div ref={box} class="chart" onDblClick={reset} />
      {status ? <p class="muted">{status}</p> : null}
    </figure>
  );
}
