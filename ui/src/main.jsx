// The dashboard's shell: navigation (hash routes, so /ui needs no server-side routing), the token
// login, and the views. Everything it loads comes from this server.
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import "./style.css";
import { getToken, onToken, request, setToken } from "./api.js";
import { AlarmsView } from "./alarms.jsx";
import { AssetView } from "./asset.jsx";
import { PlantView } from "./plant.jsx";
import { WhatIfView } from "./whatif.jsx";

function route() {
  const [, view = "plant", arg = ""] = (location.hash || "#/plant").split("/");
  return { view, arg };
}

function useRoute() {
  const [current, setCurrent] = useState(route());
  useEffect(() => {
    const changed = () => setCurrent(route());
    addEventListener("hashchange", changed);
    return () => removeEventListener("hashchange", changed);
  }, []);
  return current;
}

function Login() {
  const [token, setCurrent] = useState(getToken());
  const [open, setOpen] = useState(false);
  const [draft, setDraft] = useState("");
  useEffect(() => onToken(setCurrent), []);
  if (token) {
    return (
      <div class="login">
        <span class="muted">Token set</span>
        <button type="button" onClick={() => setToken("")}>Sign out</button>
      </div>
    );
  }
  if (!open) return <div class="login"><button type="button" onClick={() => setOpen(true)}>Sign in to write</button></div>;
  return (
    <form class="login" onSubmit={(event) => { event.preventDefault(); setToken(draft.trim()); setDraft(""); setOpen(false); }}>
      <label for="token">API token</label>
      <input id="token" type="password" autoComplete="off" value={draft} onInput={(event) => setDraft(event.currentTarget.value)}
             placeholder="bearer token (write role)" autoFocus />
      <button type="submit">Use token</button>
      <button type="button" onClick={() => setOpen(false)}>Cancel</button>
    </form>
  );
}

function useActiveAlarms() {
  const [count, setCount] = useState(null);
  useEffect(() => {
    const load = () => {
      if (document.hidden) return;
      request("/alarms?state=active&limit=1000").then((body) => setCount(body.result.length)).catch(() => setCount(null));
    };
    load();
    const timer = setInterval(load, 10000);
    return () => clearInterval(timer);
  }, []);
  return count;
}

function App() {
  const { view, arg } = useRoute();
  const alarms = useActiveAlarms();
  const link = (name, label, extra) => (
    <a href={`#/${name}`} aria-current={view === name || (name === "plant" && view === "asset") ? "page" : undefined}>
      {label}{extra}
    </a>
  );
  useEffect(() => {
    const main = document.getElementById("main");
    if (main && document.activeElement === document.body) main.focus({ preventScroll: true });
  }, [view, arg]);
  return (
    <>
      <a class="skip" href="#main" onClick={(event) => { event.preventDefault(); document.getElementById("main").focus(); }}>
        Skip to content
      </a>
      <header class="top">
        <span class="brand">twinbridge</span>
        <nav aria-label="Views">
          {link("plant", "Plant")}
          {link("alarms", "Alarms", alarms ? <span class="count" aria-label={`${alarms} active`}>{alarms}</span> : null)}
          {link("whatif", "What-if")}
        </nav>
        <Login />
      </header>
      <main id="main" tabIndex={-1}>
        {view === "asset" ? <AssetView encodedId={arg} /> : view === "alarms" ? <AlarmsView />
          : view === "whatif" ? <WhatIfView /> : <PlantView />}
      </main>
    </>
  );
}

const root = document.getElementById("app");
root.textContent = ""; // the "Loading…" line the page shows until the script runs
render(<App />, root);
