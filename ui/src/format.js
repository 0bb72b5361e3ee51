// Words and numbers as an operator reads them.

export const QUALITY_RANK = { NoLiveData: 0, Good: 1, Uncertain: 2, Bad: 3, Missing: 3 };

/** "ManufacturerProductDesignation" → "Manufacturer product designation". */
export function words(idShort) {
  const spaced = String(idShort).replace(/_/g, " ").replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .replace(/([A-Z]+)([A-Z][a-z])/g, "$1 $2");
  return spaced.charAt(0).toUpperCase() + spaced.slice(1).toLowerCase().replace(/\b(id|co2|oee|wip|rul|kpi)\b/g,
    (word) => word.toUpperCase());
}

export function number(v) {
  if (typeof v !== "number" || !Number.isFinite(v)) return String(v);
  const abs = Math.abs(v);
  if (abs !== 0 && (abs >= 1e7 || abs < 1e-3)) return v.toExponential(2);
  return v.toLocaleString("en", { maximumFractionDigits: abs >= 100 ? 1 : abs >= 1 ? 2 : 3 });
}

export function value(v) {
  if (v === null || v === undefined) return "—";
  if (typeof v === "boolean") return v ? "true" : "false";
  if (typeof v === "number") return number(v);
  return String(v);
}

export function time(iso) {
  if (!iso) return "—";
  const moment = new Date(iso);
  if (Number.isNaN(moment.getTime())) return iso;
  return moment.toLocaleTimeString("en-GB", { hour12: false }) + "." + String(moment.getMilliseconds()).padStart(3, "0");
}

export function dateTime(iso) {
  if (!iso) return "—";
  const moment = new Date(iso);
  return Number.isNaN(moment.getTime()) ? iso : moment.toLocaleString("en-GB", { hour12: false });
}

/** The last segment of an idShortPath: the name an operator knows the value by. */
export function leaf(path) {
  const parts = path.split(".");
  return parts[parts.length - 1];
}
