// What-if view: a scenario form (line, horizon, replications, maintenance policy, machine
// changes), its job's progress, and the KPIs of each line with 95 % confidence intervals beside
// the unchanged baseline and their paired difference.
import { useEffect, useState } from "preact/hooks";
import { request } from "./api.js";
import { number, words } from "./format.js";

const MAIN_KPIS = ["throughput_per_h", "good_parts", "downtime_h", "failures", "maintenance_actions", "energy_kwh",
  "energy_per_part_kwh", "wip"];
const POLL_MS = 500;

function collect(node, level, out) {
  if (node.level === level) out.push(node.idShort);
  (node.children || []).forEach((child) => collect(child, level, out));
  return out;
}

function Interval({ scenario, baseline }) {
  // both intervals on one scale: where they overlap, the change may be noise
  const low = Math.min(scenario.low, baseline.low);
  const high = Math.max(scenario.high, baseline.high);
  const span = high - low || 1;
  const x = (v) => 4 + ((v - low) / span) * 112;
  return (
    <svg class="ci" width="120" height="22" role="img"
         aria-label={`scenario ${number(scenario.low)} to ${number(scenario.high)}, baseline ${number(baseline.low)} to ${number(baseline.high)}`}>
      <line x1={x(baseline.low)} x2={x(baseline.high)} y1="15" y2="15" class="ci-base" />
      <circle cx={x(baseline.mean)} cy="15" r="2.5" class="ci-base-dot" />
      <line x1={x(scenario.low)} x2={x(scenario.high)} y1="7" y2="7" class="ci-scen" />
      <circle cx={x(scenario.mean)} cy="7" r="2.5" class="ci-scen-dot" />
    </svg>
  );
}

const cell = (e) => (e ? `${number(e.mean)} ± ${number(e.half_width)}` : "—");

function KpiTable({ line, result }) {
  const scenario = result.scenario[line].kpis;
  const baseline = result.baseline ? result.baseline[line].kpis : null;
  const difference = result.difference ? result.difference[line].kpis : null;
  const names = Object.keys(scenario);
  const main = MAIN_KPIS.filter((name) => name in scenario);
  const rest = names.filter((name) => !main.includes(name));
  const row = (name) => {
    const change = difference && difference[name];
    const sign = change && change.low > 0 ? "up" : change && change.high < 0 ? "down" : "same";
    return (
      <tr key={name} data-kpi={name}>
        <th scope="row">{words(name)}</th>
        <td class="num">{cell(scenario[name])}</td>
        <td class="num">{baseline ? cell(baseline[name]) : "—"}</td>
        <td class={`num diff-${sign}`}>{change ? `${change.mean > 0 ? "+" : ""}${cell(change)}` : "—"}</td>
        <td>{baseline ? <Interval scenario={scenario[name]} baseline={baseline[name]} /> : null}</td>
      </tr>
    );
  };
  const head = (
    <thead><tr><th scope="col">KPI</th><th scope="col" class="num">Scenario (mean ± 95 % CI)</th>
      <th scope="col" class="num">Baseline</th><th scope="col" class="num">Difference (paired)</th><th scope="col">Intervals</th></tr></thead>
  );
  return (
    <section class="card" aria-label={`KPIs of ${line}`}>
      <h2>{line}</h2>
      <div class="scroll-x"><table class="kpis-table">{head}<tbody>{main.map(row)}</tbody></table></div>
      {rest.length ? (
        <details><summary>Buffers and waits ({rest.length})</summary>
          <div class="scroll-x"><table class="kpis-table">{head}<tbody>{rest.map(row)}</tbody></table></div>
        </details>
      ) : null}
    </section>
  );
}

export function WhatIfView() {
  const [lines, setLines] = useState([]);
  const [machines, setMachines] = useState([]);
  const [form, setForm] = useState({ name: "what-if", line: "", horizon_h: 168, replications: 10, policy: "predictive",
    interval_h: 24, rul_threshold_h: 6, duration_h: 0.75 });
  const [changes, setChanges] = useState([]);
  const [job, setJob] = useState(null);
  const [error, setError] = useState(null);

  useEffect(() => {
    request("/hierarchy").then((body) => {
      setLines(body.roots.flatMap((root) => collect(root, "line", [])));
      setMachines(body.roots.flatMap((root) => collect(root, "machine", [])));
    }).catch(() => {});
  }, []);

  useEffect(() => {
    if (!job || !["queued", "running"].includes(job.status)) return undefined;
    const timer = setTimeout(() => request(`/simulations/${job.id}`).then(setJob).catch((failure) => setError(failure.message)), POLL_MS);
    return () => clearTimeout(timer);
  }, [job]);

  const set = (key) => (event) => setForm({ ...form, [key]: event.currentTarget.value });
  const run = async (event) => {
    event.preventDefault();
    const maintenance = form.policy === "reactive" ? { kind: "reactive" }
      : form.policy === "preventive" ? { kind: "preventive", interval_h: Number(form.interval_h), duration_h: Number(form.duration_h) }
        : { kind: "predictive", rul_threshold_h: Number(form.rul_threshold_h), duration_h: Number(form.duration_h) };
    const scenario = {
      name: form.name, horizon_h: Number(form.horizon_h), replications: Number(form.replications), maintenance,
      changes: changes.filter((c) => c.machine).map((c) => {
        const change = { machine: c.machine };
        if (c.speed_factor) change.speed_factor = Number(c.speed_factor);
        if (c.buffer_after) change.buffer_after = Number(c.buffer_after);
        return change;
      }),
    };
    if (form.line) scenario.line = form.line;
    setError(null);
    try {
      setJob(await request("/simulations", { method: "POST", body: scenario }));
    } catch (failure) {
      setError(`Refused (${failure.status || "error"}): ${failure.message}`);
    }
  };
  const result = job && job.status === "done" ? job.result : null;
  return (
    <section class="view" aria-labelledby="whatif-title">
      <h1 id="whatif-title">What-if</h1>
      <form class="card scenario" onSubmit={run}>
        <div class="fields">
          <label>Name <input value={form.name} onInput={set("name")} required /></label>
          <label>Line <select value={form.line} onChange={set("line")}>
            <option value="">every simulated line</option>
            {lines.map((line) => <option key={line}>{line}</option>)}
          </select></label>
          <label>Horizon (h) <input type="number" min="1" max="8760" value={form.horizon_h} onInput={set("horizon_h")} /></label>
          <label>Replications <input type="number" min="2" max="200" value={form.replications} onInput={set("replications")} /></label>
        </div>
        <fieldset>
          <legend>Maintenance</legend>
          {["reactive", "preventive", "predictive"].map((policy) => (
            <label key={policy} class="inline"><input type="radio" name="policy" value={policy} checked={form.policy === policy}
                                                      onChange={set("policy")} /> {policy}</label>
          ))}
          {form.policy === "preventive" ? <label>every (operating h) <input type="number" min="0.1" step="any" value={form.interval_h} onInput={set("interval_h")} /></label> : null}
          {form.policy === "predictive" ? <label>when RUL below (h) <input type="number" min="0.1" step="any" value={form.rul_threshold_h} onInput={set("rul_threshold_h")} /></label> : null}
          {form.policy !== "reactive" ? <label>service takes (h) <input type="number" min="0.01" step="any" value={form.duration_h} onInput={set("duration_h")} /></label> : null}
        </fieldset>
        <fieldset>
          <legend>Machine changes</legend>
          {changes.map((change, index) => {
            const update = (key) => (event) => setChanges(changes.map((c, i) => (i === index ? { ...c, [key]: event.currentTarget.value } : c)));
            return (
              <div class="change" key={index}>
                <label>Machine <select value={change.machine} onChange={update("machine")}>
                  <option value="">—</option>{machines.map((m) => <option key={m}>{m}</option>)}
                </select></label>
                <label>Speed factor <input type="number" min="0.1" max="100" step="any" value={change.speed_factor} onInput={update("speed_factor")} /></label>
                <label>Buffer after <input type="number" min="1" step="1" value={change.buffer_after} onInput={update("buffer_after")} /></label>
                <button type="button" onClick={() => setChanges(changes.filter((_, i) => i !== index))}>Remove</button>
              </div>
            );
          })}
          <button type="button" onClick={() => setChanges([...changes, { machine: "", speed_factor: "", buffer_after: "" }])}>Add a change</button>
        </fieldset>
        <button type="submit" class="primary" disabled={job && ["queued", "running"].includes(job.status)}>Run scenario</button>
        {error ? <p role="alert" class="error">{error}</p> : null}
      </form>
      {job ? (
        <p aria-live="polite">
          Job {job.id.slice(0, 8)}: {job.status}
          {" "}<progress max="1" value={job.progress} aria-label="Replications done">{Math.round(job.progress * 100)} %</progress>
          {" "}{job.replicationsDone}/{job.replicationsTotal} replications
          {job.error ? <span role="alert" class="error"> {job.error}</span> : null}
        </p>
      ) : null}
      {result ? Object.keys(result.scenario).map((line) => <KpiTable key={line} line={line} result={result} />) : null}
    </section>
  );
}
