// Alarms view: active and past alarms from the analytics alarm book; acknowledge needs a token
// with the write role (the server's refusal is shown as it words it).
import { useEffect, useState } from "preact/hooks";
import { request } from "./api.js";
import { dateTime, value } from "./format.js";

const REFRESH_MS = 3000;
const SEVERITY = (n) => (n >= 800 ? "high" : n >= 400 ? "medium" : "low");

function AlarmTable({ alarms, caption, onAcknowledge, outcome }) {
  if (!alarms.length) return <p class="muted">{caption}: none.</p>;
  return (
    <div class="scroll-x">
      <table class="alarms">
        <caption>{caption}</caption>
        <thead><tr><th scope="col">Severity</th><th scope="col">Source</th><th scope="col">Condition</th><th scope="col">Message</th>
          <th scope="col" class="num">Value / limit</th><th scope="col">Raised</th><th scope="col">Cleared</th><th scope="col">Acknowledged</th></tr></thead>
        <tbody>
          {alarms.map((alarm) => (
            <tr key={alarm.id} data-alarm={alarm.id} data-state={alarm.state}>
              <td><span class={`sev sev-${SEVERITY(alarm.severity)}`}>{alarm.severity}</span></td>
              <td>{alarm.source}</td>
              <td>{alarm.condition}</td>
              <td>{alarm.message}</td>
              <td class="num">{value(alarm.value)} / {value(alarm.limit)}</td>
              <td>{dateTime(alarm.raisedAt)}</td>
              <td>{dateTime(alarm.clearedAt)}</td>
              <td>
                {alarm.acknowledgedBy
                  ? <span>by {alarm.acknowledgedBy}{alarm.confirmedBy ? `, confirmed by ${alarm.confirmedBy}` : ""}</span>
                  : <button type="button" onClick={() => onAcknowledge(alarm)}>Acknowledge</button>}
                {outcome && outcome.id === alarm.id ? <span class="error" role="alert"> {outcome.text}</span> : null}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function AlarmsView() {
  const [alarms, setAlarms] = useState(null);
  const [error, setError] = useState(null);
  const [outcome, setOutcome] = useState(null);
  const load = () => request("/alarms?state=all&limit=500").then((body) => { setAlarms(body.result); setError(null); })
    .catch((failure) => setError(failure.status === 404 ? "This server runs no analytics: no alarm conditions are configured." : failure.message));
  useEffect(() => {
    load();
    const timer = setInterval(() => { if (!document.hidden) load(); }, REFRESH_MS);
    return () => clearInterval(timer);
  }, []);
  const acknowledge = async (alarm) => {
    try {
      await request(`/alarms/${alarm.id}/acknowledge`, { method: "POST" });
      setOutcome(null);
      load();
    } catch (failure) {
      setOutcome({ id: alarm.id, text: `Refused (${failure.status || "error"}): ${failure.message}` });
    }
  };
  const active = (alarms || []).filter((alarm) => alarm.state === "active");
  const past = (alarms || []).filter((alarm) => alarm.state !== "active");
  return (
    <section class="view" aria-labelledby="alarms-title">
      <h1 id="alarms-title">Alarms</h1>
      {error ? <p role="alert" class="error">{error}</p> : null}
      {alarms === null && !error ? <p>Loading…</p> : null}
      {alarms ? (
        <>
          <AlarmTable alarms={active} caption={`Active (${active.length})`} onAcknowledge={acknowledge} outcome={outcome} />
          <AlarmTable alarms={past} caption={`Past (${past.length})`} onAcknowledge={acknowledge} outcome={outcome} />
        </>
      ) : null}
    </section>
  );
}
