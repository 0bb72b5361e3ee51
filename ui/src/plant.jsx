// Plant view: the hierarchy as a virtualised tree (fixed row height, only the rows in view are in
// the DOM, so 6,000 shells scroll like 20), each node marked with the worst quality below it, the
// roll-up KPIs of the aggregate rows in view, search by idShort or semanticId, and a side panel.
import { Component } from "preact";
import { useCallback, useEffect, useMemo, useRef, useState } from "preact/hooks";
import { b64, request } from "./api.js";
import { QUALITY_RANK, leaf, time, value, words } from "./format.js";
import { useLive } from "./live.js";
import { QualityBadge, StatusMark, qualityName } from "./status.jsx";

const ROW = 34; // px; fixed so a row's position is its index times ROW
const OVERSCAN = 10;
const REFRESH_MS = 10000;
const RANK_NAMES = ["NoLiveData", "Good", "Uncertain", "Bad"];
const RECORD = "Segments.LiveValues.Records.Current"; // the Time Series record holding the live values
const CURRENT = `${RECORD}.`;

/** Nodes by id with parent, depth, children, the worst status at or below and counts by status. */
function indexTree(roots) {
  const byId = new Map();
  let serial = 0;
  const walk = (node, parent, depth) => {
    const counts = { Good: 0, Uncertain: 0, Bad: 0, NoLiveData: 0 };
    let rank = QUALITY_RANK[node.status] ?? 0;
    counts[RANK_NAMES[rank]] += 1;
    const entry = { node, parent, depth, n: serial++, children: [], counts };
    byId.set(node.id, entry);
    for (const child of node.children || []) {
      const below = walk(child, node.id, depth + 1);
      entry.children.push(child.id);
      rank = Math.max(rank, below.rank);
      for (const key in counts) counts[key] += below.counts[key];
    }
    entry.rank = rank;
    entry.worst = RANK_NAMES[rank];
    return entry;
  };
  roots.forEach((root) => walk(root, null, 0));
  return { byId, roots: roots.map((root) => root.id) };
}

function flatten(tree, expanded, only) {
  const rows = [];
  const stack = [...tree.roots].reverse();
  while (stack.length) {
    const id = stack.pop();
    if (only && !only.has(id)) continue;
    rows.push(id);
    const entry = tree.byId.get(id);
    if (only || expanded.has(id)) for (let i = entry.children.length - 1; i >= 0; i -= 1) stack.push(entry.children[i]);
  }
  return rows;
}

function initiallyExpanded(tree) {
  const open = new Set();
  tree.byId.forEach((entry, id) => {
    if (["plant", "line", "cell"].includes(entry.node.level) || (entry.depth < 2 && entry.children.length < 50)) open.add(id);
  });
  return open;
}

/** `value` once it stopped changing for `ms`; the first non-empty value at once (the first view waits for nothing). */
function useDebounced(value, ms) {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    if (!settled && value) {
      setSettled(value);
      return undefined;
    }
    const timer = setTimeout(() => setSettled(value), ms);
    return () => clearTimeout(timer);
  }, [value, ms]);
  return settled;
}

const NONE = [];

/** Roll-up rows by shell id, built once per live update (a row in view looks its KPIs up in O(1)). */
function kpisByShell(live) {
  const byShell = new Map();
  live.rows.forEach((row) => {
    if (!row.idShortPath.startsWith(CURRENT) || row.valueType === "xs:dateTime") return;
    if (!byShell.has(row.aasId)) byShell.set(row.aasId, []);
    byShell.get(row.aasId).push(row);
  });
  return byShell;
}

function Kpi({ row }) {
  return (
    <span class="kpi" title={`${row.idShortPath} (${qualityName(row.quality)})`}>
      <span class="kpi-name">{leaf(row.idShortPath)}</span>{" "}
      <span class="kpi-value" data-kpi={leaf(row.idShortPath)}>{value(row.value)}</span>
      {row.unit ? <span class="unit"> {row.unit}</span> : null}
    </span>
  );
}

/** Renders again only when one of its props changed: scrolling then touches only the rows entering the window. */
class PureRow extends Component {
  shouldComponentUpdate(next) {
    for (const key in next) if (next[key] !== this.props[key]) return true;
    return false;
  }

  render(props) {
    return <TreeRow {...props} />;
  }
}

function TreeRow({ entry, index, open, focused, matched, kpis, onToggle, onPick, onOpen }) {
  const { node } = entry;
  const hasChildren = entry.children.length > 0;
  return (
    <div
      id={`node-${entry.n}`}
      role="treeitem"
      aria-level={entry.depth + 1}
      aria-expanded={hasChildren ? String(open) : undefined}
      aria-selected={String(focused)}
      aria-label={`${node.idShort || node.id}, ${node.level || "shell"}, ${qualityName(entry.worst)} at worst below`}
      class={`row${focused ? " focused" : ""}${matched ? " matched" : ""}`}
      style={{ transform: `translateY(${index * ROW}px)` }}
      data-id={node.id}
      data-worst={entry.worst}
      onClick={() => onPick(node.id)}
      onDblClick={() => onOpen(node.id)}
    >
      <span class="indent" style={{ width: `${entry.depth * 1.1}rem` }} />
      <span class="twist" aria-hidden="true" onClick={(event) => { event.stopPropagation(); if (hasChildren) onToggle(node.id); }}>
        {hasChildren ? (open ? "▾" : "▸") : ""}
      </span>
      <StatusMark status={entry.worst} label={`${qualityName(entry.worst)} at worst below`} />
      <a class="name" href={`#/asset/${b64(node.id)}`} tabIndex={-1} onClick={(event) => event.stopPropagation()}>
        {node.idShort || node.id}
      </a>
      <span class="level">{node.level}</span>
      {matched && matched !== "idShort" ? <span class="why" title="matched semanticId">{matched}</span> : null}
      <span class="kpis">{kpis.slice(0, 3).map((row) => <Kpi key={row.key} row={row} />)}</span>
    </div>
  );
}

function TreeList({ tree, rows, expanded, setExpanded, focused, setFocused, matches, live }) {
  const box = useRef(null);
  const [scroll, setScroll] = useState(0);
  const [height, setHeight] = useState(600);
  useEffect(() => {
    const observer = new ResizeObserver(() => box.current && setHeight(box.current.clientHeight));
    observer.observe(box.current);
    return () => observer.disconnect();
  }, []);
  const at = useMemo(() => (focused ? rows.indexOf(focused) : -1), [rows, focused]);
  const kpis = useMemo(() => kpisByShell(live), [live]);
  useEffect(() => {
    const element = box.current;
    if (at < 0 || !element) return;
    const top = at * ROW;
    if (top < element.scrollTop) element.scrollTop = top;
    else if (top + ROW > element.scrollTop + element.clientHeight) element.scrollTop = top + ROW - element.clientHeight;
  }, [at]);
  const first = Math.max(0, Math.floor(scroll / ROW) - OVERSCAN);
  const last = Math.min(rows.length, Math.ceil((scroll + height) / ROW) + OVERSCAN);
  const toggle = useCallback((id) => setExpanded((old) => {
    const next = new Set(old);
    if (next.has(id)) next.delete(id); else next.add(id);
    return next;
  }), [setExpanded]);
  const open = useCallback((id) => { location.hash = `#/asset/${b64(id)}`; }, []);
  const onKeyDown = (event) => {
    const current = at < 0 ? 0 : at;
    const id = rows[current];
    const entry = id && tree.byId.get(id);
    const move = (index) => { event.preventDefault(); setFocused(rows[Math.max(0, Math.min(rows.length - 1, index))]); };
    switch (event.key) {
      case "ArrowDown": return move(current + 1);
      case "ArrowUp": return move(current - 1);
      case "Home": return move(0);
      case "End": return move(rows.length - 1);
      case "PageDown": return move(current + Math.floor(height / ROW));
      case "PageUp": return move(current - Math.floor(height / ROW));
      case "ArrowRight":
        event.preventDefault();
        if (!entry || !entry.children.length) return undefined;
        if (!expanded.has(id) && !matches) return toggle(id);
        return move(current + 1);
      case "ArrowLeft":
        event.preventDefault();
        if (entry && entry.children.length && expanded.has(id) && !matches) return toggle(id);
        if (entry && entry.parent) return setFocused(entry.parent);
        return undefined;
      case "Enter":
        event.preventDefault();
        return id ? open(id) : undefined;
      default: return undefined;
    }
  };
  const focusedEntry = focused && tree.byId.get(focused);
  return (
    <div
      ref={box}
      class="tree"
      role="tree"
      tabIndex={0}
      aria-label="Plant hierarchy: arrow keys move, right and left open and close, Enter opens the asset"
      aria-activedescendant={focusedEntry && at >= 0 ? `node-${focusedEntry.n}` : undefined}
      onScroll={(event) => setScroll(event.currentTarget.scrollTop)}
      onKeyDown={onKeyDown}
      onFocus={() => { if (!focused && rows.length) setFocused(rows[0]); }}
      data-rows={rows.length}
    >
      <div role="none" class="tree-body" style={{ height: `${rows.length * ROW}px` }}>
        {rows.slice(first, last).map((id, offset) => {
          const entry = tree.byId.get(id);
          return (
            <PureRow
              key={id}
              entry={entry}
              index={first + offset}
              open={Boolean(matches) || expanded.has(id)}
              focused={id === focused}
              matched={matches ? matches.get(id) : null}
              kpis={(entry.children.length && kpis.get(id)) || NONE}
              onToggle={toggle}
              onPick={setFocused}
              onOpen={open}
            />
          );
        })}
      </div>
    </div>
  );
}

function NodePanel({ tree, id }) {
  const entry = tree.byId.get(id);
  const live = useLive(entry ? [id] : [], undefined, RECORD);
  if (!entry) return <aside class="panel"><p>Select a node to see its state.</p></aside>;
  const { node, counts } = entry;
  const kpis = kpisByShell(live).get(id) || NONE;
  return (
    <aside class="panel" aria-label={`Summary of ${node.idShort}`}>
      <h2>{node.idShort} <span class="level">{node.level}</span></h2>
      <p><a class="button" href={`#/asset/${b64(id)}`}>Open asset view</a></p>
      <dl class="facts">
        <div><dt>Own status</dt><dd><QualityBadge status={node.status} /></dd></div>
        <div><dt>Worst below</dt><dd><QualityBadge status={entry.worst} /></dd></div>
        <div><dt>Last update</dt><dd>{time(node.lastUpdate)}</dd></div>
      </dl>
      <h3>Shells at and below</h3>
      <ul class="counts">
        {Object.entries(counts).map(([status, count]) => (
          <li key={status}><StatusMark status={status} /> {qualityName(status)}: <strong>{count}</strong></li>
        ))}
      </ul>
      <h3>{entry.children.length ? "Roll-up KPIs" : "Live values"}</h3>
      {live.error ? <p role="alert" class="error">{live.error}</p> : null}
      {kpis.length ? (
        <table class="kpi-table">
          <tbody>
            {kpis.map((row) => (
              <tr key={row.key}>
                <th scope="row">{words(leaf(row.idShortPath))}</th>
                <td class="num">{value(row.value)}{row.unit ? ` ${row.unit}` : ""}</td>
                <td><StatusMark status={row.quality} /></td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : <p class="muted">{live.state === "loading" ? "Loading…" : "None."}</p>}
    </aside>
  );
}

export function PlantView() {
  const [tree, setTree] = useState(null);
  const [error, setError] = useState(null);
  const [expanded, setExpanded] = useState(new Set());
  const [focused, setFocused] = useState(null);
  const [query, setQuery] = useState("");
  const [matches, setMatches] = useState(null);
  const settledQuery = useDebounced(query.trim(), 200);

  useEffect(() => {
    let first = true;
    let timer = null;
    let stopped = false;
    const load = () => {
      const started = performance.now();
      const next = () => {
        if (stopped) return;
        // every 10 s, or 20 times what the last read took: /hierarchy of 6,000 shells costs the
        // server ~0.9 s (BENCHMARKS.md), and an open dashboard must not keep a core busy
        timer = setTimeout(load, Math.max(REFRESH_MS, 20 * (performance.now() - started)));
      };
      if (document.hidden && !first) { next(); return; }
      request("/hierarchy").then((body) => {
        const indexed = indexTree(body.roots);
        setTree(indexed);
        setError(null);
        if (first) {
          first = false;
          setExpanded(initiallyExpanded(indexed));
          setFocused((old) => old || indexed.roots[0] || null);
        }
      }).catch((failure) => setError(failure.message)).finally(next);
    };
    load();
    return () => { stopped = true; clearTimeout(timer); };
  }, []);

  useEffect(() => {
    if (!settledQuery) { setMatches(null); return undefined; }
    const controller = new AbortController();
    request(`/hierarchy/search?q=${encodeURIComponent(settledQuery)}`, { signal: controller.signal }).then((body) => {
      setMatches(new Map(body.result.map((match) => [match.id, match.matched])));
    }).catch((failure) => { if (failure.name !== "AbortError") setError(failure.message); });
    return () => controller.abort();
  }, [settledQuery]);

  const only = useMemo(() => {
    if (!matches || !tree) return null;
    const keep = new Set();
    matches.forEach((_, id) => {
      for (let at = id; at && !keep.has(at); at = tree.byId.get(at)?.parent) keep.add(at);
    });
    return keep;
  }, [matches, tree]);
  const rows = useMemo(() => (tree ? flatten(tree, expanded, only) : []), [tree, expanded, only]);
  useEffect(() => { // a search moves the focus to its first match when the focused node is filtered out
    if (only && matches.size && !only.has(focused)) setFocused(rows.find((id) => matches.has(id)) || null);
  }, [only]);
  const aggregatesInView = useDebounced(
    tree ? rows.filter((id) => tree.byId.get(id).children.length).slice(0, 60).join("\n") : "", 300);
  const live = useLive(aggregatesInView ? aggregatesInView.split("\n") : [], undefined, RECORD);

  if (!tree) return <section class="view"><h1>Plant</h1>{error ? <p role="alert" class="error">{error}</p> : <p>Loading the plant…</p>}</section>;
  const total = tree.byId.size;
  return (
    <section class="view plant" aria-labelledby="plant-title">
      <div class="toolbar">
        <h1 id="plant-title">Plant <span class="muted">{total} shells</span></h1>
        <label class="search">
          <span>Search idShort or semanticId</span>
          <input type="search" value={query} onInput={(event) => setQuery(event.currentTarget.value)}
                 placeholder="e.g. Filler or 0173-1#02-AAV232#002" />
        </label>
        <p class="muted" aria-live="polite">{matches ? `${matches.size} matching shell${matches.size === 1 ? "" : "s"}` : ""}</p>
      </div>
      {error ? <p role="alert" class="error">{error}</p> : null}
      <div class="split">
        <TreeList tree={tree} rows={rows} expanded={expanded} setExpanded={setExpanded} focused={focused}
                  setFocused={setFocused} matches={matches} live={live} />
        <NodePanel tree={tree} id={focused} />
      </div>
    </section>
  );
}
