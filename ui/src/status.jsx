// Quality at a glance: a shape as well as a colour, so it reads without colour vision too.
const MARKS = {
  Good: ["●", "Good"],
  Uncertain: ["▲", "Uncertain"],
  Bad: ["■", "Bad"],
  NoLiveData: ["○", "No live data"],
  Missing: ["✕", "Missing"],
};

export function qualityName(status) {
  return (MARKS[status] || MARKS.NoLiveData)[1];
}

export function StatusMark({ status, label }) {
  const [glyph, name] = MARKS[status] || MARKS.NoLiveData;
  const text = label || name;
  return <span class={`mark q-${status}`} role="img" aria-label={text} title={text}>{glyph}</span>;
}

export function QualityBadge({ status }) {
  return <span class={`badge q-${status}`}><StatusMark status={status} label="" /> {qualityName(status)}</span>;
}
