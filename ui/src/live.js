// Live values of shells: one GET /live for the snapshot (value, quality, timestamp, unit, write-back),
// then /events filtered to exactly the submodels that snapshot named.
import { useEffect, useState } from "preact/hooks";
import { b64, eventKey, request, subscribe } from "./api.js";

/**
 * { rows: Map(key → row), state, error } for the shells `ids` (elements under the idShortPath
 * `prefix` only, if given: the tree wants the roll-ups, not the analytics);
 * a row is the /live element plus its key ("b64 submodel|path"); SSE updates replace value,
 * quality and timestamp. `onValue(key, row)` sees every update (trend charts append points).
 */
export function useLive(ids, onValue, prefix = "") {
  const idsKey = `${prefix}\n${ids.join("\n")}`;
  const [live, setLive] = useState({ rows: new Map(), state: "loading", error: null });
  useEffect(() => {
    if (!ids.length) {
      setLive({ rows: new Map(), state: "idle", error: null });
      return undefined;
    }
    let stop = null;
    let cancelled = false;
    const rows = new Map();
    let pending = false;
    const publish = () => {
      if (pending) return;
      pending = true; // at most one render per animation frame, however fast values arrive
      requestAnimationFrame(() => {
        pending = false;
        if (!cancelled) setLive((old) => ({ ...old, rows: new Map(rows) }));
      });
    };
    const under = prefix ? `&idShortPath=${encodeURIComponent(prefix)}` : "";
    request(`/live?${ids.map((id) => `aasId=${b64(id)}`).join("&")}${under}`).then((body) => {
      if (cancelled) return;
      const submodels = new Set();
      body.result.forEach((shell) => shell.elements.forEach((element) => {
        const key = `${b64(element.submodelId)}|${element.idShortPath}`;
        rows.set(key, { ...element, key, aasId: shell.aasId, shellIdShort: shell.idShort });
        submodels.add(b64(element.submodelId));
      }));
      setLive({ rows: new Map(rows), state: submodels.size ? "connecting" : "idle", error: null });
      if (!submodels.size) return;
      const query = ["types=valueChanged", ...[...submodels].map((id) => `submodel=${id}`)].join("&") + under;
      stop = subscribe(query, (event) => {
        const key = eventKey(event);
        const row = key && rows.get(key);
        if (!row) return;
        const next = { ...row, value: event.data, quality: event.quality || row.quality, timestamp: event.time };
        rows.set(key, next);
        if (onValue) onValue(key, next);
        publish();
      }, (state) => { if (!cancelled) setLive((old) => ({ ...old, state })); });
    }).catch((error) => {
      if (!cancelled) setLive({ rows: new Map(), state: "failed", error: error.message });
    });
    return () => {
      cancelled = true;
      if (stop) stop();
    };
  }, [idsKey]);
  return live;
}
