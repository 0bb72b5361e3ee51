// Asset view: who the asset is (nameplate, technical data), what it does now (live values with
// quality and source timestamp, via /live and /events), what it did (trends from history), and
// set-points for the elements whose writes reach the device.
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { API, b64, request, unb64 } from "./api.js";
import { leaf, time, value, words } from "./format.js";
import { useLive } from "./live.js";
import { QualityBadge } from "./status.jsx";
import { Trend } from "./trend.jsx";

const CARDS = [
  ["Nameplate", (s) => /nameplate/i.test(s) && !/ContactInformation/i.test(s)],
  ["Technical data", (s) => /TechnicalData|0173-1#01-AHX837/i.test(s)],
  ["Contact information", (s) => /ContactInformation/i.test(s)],
  ["Carbon footprint", (s) => /CarbonFootprint/i.test(s)],
];
const NUMERIC = /^xs:(double|float|decimal|integer|int|long|short|byte|unsigned\w*|negative\w*|nonNegative\w*|positive\w*|nonPositive\w*)$/;

const CURRENT = "Segments.LiveValues.Records.Current.";
const PAST_RECORD = /(^|\.)Records\.Record\d+\.|(^|\.)RecordCount$/;

/** Live rows an operator reads: the Time Series' current record first (its past records are
 * history, shown by the trends), then computed values (analytics, roll-ups). */
function shown(rows) {
  const kept = rows.filter((row) => row.valueType !== "xs:dateTime" && !PAST_RECORD.test(row.idShortPath));
  const current = kept.filter((row) => row.idShortPath.startsWith(CURRENT));
  return [...current, ...kept.filter((row) => !row.idShortPath.startsWith(CURRENT))];
}

/** The collection holding a value, when its own name is not enough ("AnomalyScore" of which signal). */
function context(path) {
  const parts = path.split(".");
  return parts.length > 2 ? parts[parts.length - 2] : "";
}

function semanticOf(thing) {
  const keys = thing && thing.semanticId && thing.semanticId.keys;
  return keys && keys.length ? keys[0].value : "";
}

function text(element) {
  if (element.modelType === "MultiLanguageProperty") {
    const strings = element.value || [];
    const english = strings.find((s) => s.language && s.language.startsWith("en"));
    return (english || strings[0] || {}).text;
  }
  if (element.modelType === "Property") return element.value;
  if (element.modelType === "Range") return `${element.min ?? "?"} … ${element.max ?? "?"}`;
  if (element.modelType === "File") return element.value;
  return undefined;
}

/** Elements as a readable definition list; collections nest, empty values are left out. */
function Elements({ elements }) {
  const items = (elements || []).map((element, index) => {
    const name = words(element.idShort || `${index + 1}`);
    if (["SubmodelElementCollection", "SubmodelElementList"].includes(element.modelType)) {
      if (!element.value || !element.value.length) return null;
      return (
        <div class="group" key={index}>
          <dt>{name}</dt>
          <dd><dl class="facts"><Elements elements={element.value} /></dl></dd>
        </div>
      );
    }
    const shown = text(element);
    if (shown === undefined || shown === null || shown === "") return null;
    return <div key={index}><dt>{name}</dt><dd>{String(shown)}</dd></div>;
  });
  return <>{items}</>;
}

function Card({ title, submodel }) {
  return (
    <section class="card" aria-label={title}>
      <h2>{title}</h2>
      <dl class="facts"><Elements elements={submodel.submodelElements} /></dl>
    </section>
  );
}

function parseFor(valueType, raw) {
  if (valueType === "xs:boolean") {
    if (!["true", "false", "1", "0"].includes(raw.trim())) throw new Error("enter true or false");
    return raw.trim() === "true" || raw.trim() === "1";
  }
  if (NUMERIC.test(valueType || "")) {
    const parsed = Number(raw);
    if (raw.trim() === "" || !Number.isFinite(parsed)) throw new Error("enter a number");
    return parsed;
  }
  return raw;
}

function Setpoint({ row }) {
  const [raw, setRaw] = useState("");
  const [outcome, setOutcome] = useState(null);
  const [busy, setBusy] = useState(false);
  const name = leaf(row.idShortPath);
  const submit = async (event) => {
    event.preventDefault();
    let parsed;
    try {
      parsed = parseFor(row.valueType, raw);
    } catch (error) {
      setOutcome({ ok: false, text: error.message });
      return;
    }
    setBusy(true);
    try {
      await request(`/submodels/${b64(row.submodelId)}/submodel-elements/${encodeURIComponent(row.idShortPath)}/$value`,
        { method: "PATCH", body: parsed });
      setOutcome({ ok: true, text: `${name} = ${parsed}: the device accepted it` });
    } catch (error) {
      setOutcome({ ok: false, text: `Refused (${error.status || "error"}): ${error.message}` });
    } finally {
      setBusy(false);
    }
  };
  const inputId = `set-${row.key.replace(/[^A-Za-z0-9_-]/g, "_")}`;
  return (
    <form class="setpoint" onSubmit={submit}>
      <label class="sr-only" for={inputId}>New value of {name}</label>
      <input id={inputId} inputMode={row.valueType === "xs:boolean" ? "text" : "decimal"} value={raw} size={8}
             onInput={(event) => setRaw(event.currentTarget.value)} placeholder={value(row.value)} />
      <button type="submit" disabled={busy}>Set</button>
      {outcome ? (
        <span class={outcome.ok ? "ok" : "error"} role={outcome.ok ? "status" : "alert"} data-outcome={outcome.ok ? "accepted" : "refused"}>
          {outcome.text}
        </span>
      ) : null}
    </form>
  );
}

function LiveTable({ rows, submodelNames, trends, toggleTrend }) {
  if (!rows.length) return <p class="muted">This asset has no live values.</p>;
  return (
    <div class="scroll-x">
      <table class="live">
        <caption class="sr-only">Live values with quality and source timestamp</caption>
        <thead><tr><th scope="col">Value of</th><th scope="col" class="num">Now</th><th scope="col">Quality</th><th scope="col">Source time</th><th scope="col">Trend</th><th scope="col">Set-point</th></tr></thead>
        <tbody>
          {rows.map((row) => {
            const where = submodelNames.get(row.submodelId);
            const canTrend = NUMERIC.test(row.valueType || "") || row.valueType === "xs:boolean";
            return (
              <tr key={row.key} data-path={row.idShortPath} data-submodel={where || ""}>
                <th scope="row">
                  {words(leaf(row.idShortPath))}
                  {where && where !== "OperationalData"
                    ? <span class="muted small"> · {[context(row.idShortPath), where].filter(Boolean).join(" · ")}</span> : null}
                </th>
                <td class="num"><span class="live-value" data-value={String(row.value)}>{value(row.value)}</span>{row.unit ? <span class="unit"> {row.unit}</span> : null}</td>
                <td><QualityBadge status={row.quality} /></td>
                <td><time dateTime={row.timestamp || ""}>{time(row.timestamp)}</time></td>
                <td>{canTrend ? (
                  <input type="checkbox" checked={trends.includes(row.key)} onChange={() => toggleTrend(row.key)}
                         aria-label={`Show the trend of ${leaf(row.idShortPath)}`} />
                ) : null}</td>
                <td>{row.writeBack ? <Setpoint row={row} /> : row.bound ? <span class="muted small">measured</span> : null}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

export function AssetView({ encodedId }) {
  const id = useMemo(() => { try { return unb64(encodedId); } catch (_) { return null; } }, [encodedId]);
  const [shell, setShell] = useState(null);
  const [submodels, setSubmodels] = useState([]);
  const [ancestors, setAncestors] = useState([]);
  const [error, setError] = useState(null);
  const [trends, setTrends] = useState(null);
  const listeners = useRef(new Map());
  const live = useLive(id ? [id] : [], (key, row) => {
    const listener = listeners.current.get(key);
    if (listener) listener(row);
  });
  const register = (key, listener) => {
    listeners.current.set(key, listener);
    return () => { if (listeners.current.get(key) === listener) listeners.current.delete(key); };
  };

  useEffect(() => {
    if (!id) { setError(`${encodedId} is not a base64url-encoded shell id`); return undefined; }
    const controller = new AbortController();
    const { signal } = controller;
    setShell(null); setSubmodels([]); setTrends(null); setError(null);
    request(`/shells/${encodedId}`, { signal }).then(async (body) => {
      setShell(body);
      const refs = (body.submodels || []).map((ref) => ref.keys[0].value);
      const metas = await Promise.all(refs.map((ref) => request(`/submodels/${b64(ref)}/$metadata`, { signal })
        .catch(() => null)));
      const wanted = metas.filter(Boolean);
      const full = await Promise.all(wanted.map((meta) => (CARDS.some(([, test]) => test(semanticOf(meta) + meta.idShort))
        ? request(`/submodels/${b64(meta.id)}`, { signal }).catch(() => meta) : meta)));
      setSubmodels(full);
    }).catch((failure) => { if (failure.name !== "AbortError") setError(failure.message); });
    request(`/hierarchy/${encodedId}/ancestors`, { signal }).then((body) => setAncestors(body.result.reverse()))
      .catch(() => setAncestors([]));
    return () => controller.abort();
  }, [encodedId]);

  const rows = useMemo(() => shown([...live.rows.values()]), [live.rows]);
  useEffect(() => {
    if (trends === null && rows.length) {
      const numeric = rows.filter((row) => NUMERIC.test(row.valueType || ""));
      const first = numeric.find((row) => row.bound && row.idShortPath.startsWith(CURRENT)) || numeric[0];
      setTrends(first ? [first.key] : []);
    }
  }, [rows, trends]);
  const toggleTrend = (key) => setTrends((old) => (old || []).includes(key) ? old.filter((k) => k !== key) : [...(old || []), key]);
  const submodelNames = useMemo(() => new Map(submodels.map((sm) => [sm.id, sm.idShort])), [submodels]);

  if (error) return <section class="view"><h1>Asset</h1><p role="alert" class="error">{error}</p></section>;
  if (!shell) return <section class="view"><h1>Asset</h1><p>Loading…</p></section>;
  const info = shell.assetInformation || {};
  const name = (shell.displayName || []).map((d) => d.text)[0];
  const cards = CARDS.map(([title, test]) => [title, submodels.find((sm) => sm.submodelElements && test(semanticOf(sm) + sm.idShort))])
    .filter(([, sm]) => sm);
  return (
    <section class="view asset" aria-labelledby="asset-title">
      <nav aria-label="Breadcrumb" class="crumbs">
        <a href="#/plant">Plant</a>
        {ancestors.map((node) => <span key={node.id}> / <a href={`#/asset/${b64(node.id)}`}>{node.idShort}</a></span>)}
      </nav>
      <h1 id="asset-title">{shell.idShort}{name ? <span class="muted"> · {name}</span> : null}</h1>
      <p class="muted small">
        {info.assetKind} {info.assetType ? `· ${info.assetType}` : ""} · {info.globalAssetId}
        {(info.specificAssetIds || []).map((sid) => ` · ${sid.name} ${sid.value}`).join("")}
      </p>
      <section class="card" aria-labelledby="live-title">
        <h2 id="live-title">Live values <span class="muted small" data-stream={live.state}>{live.state === "live" ? "● streaming" : live.state}</span></h2>
        {live.error ? <p role="alert" class="error">{live.error}</p> : null}
        <LiveTable rows={rows} submodelNames={submodelNames} trends={trends || []} toggleTrend={toggleTrend} />
      </section>
      {(trends || []).map((key) => live.rows.get(key)).filter(Boolean).map((row) => (
        <Trend key={row.key} row={row} register={register} />
      ))}
      <div class="cards">
        {cards.map(([title, sm]) => <Card key={title} title={title} submodel={sm} />)}
        <section class="card" aria-label="Submodels">
          <h2>Submodels</h2>
          <ul class="plain">
            {submodels.map((sm) => (
              <li key={sm.id}><a href={`${API}/submodels/${b64(sm.id)}`}>{sm.idShort}</a> <span class="muted small">{semanticOf(sm)}</span></li>
            ))}
          </ul>
        </section>
      </div>
    </section>
  );
}

