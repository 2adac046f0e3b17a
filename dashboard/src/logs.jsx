// Request logs: a chart of requests over time, a filtered list, and each entry's details.
import { useEffect, useState } from "preact/hooks";
import { api } from "./api.js";
import { Dialog } from "./collections.jsx";
import { ErrorBanner, Field, TextInput, useAction } from "./ui.jsx";

const LEVELS = { "-4": "DEBUG", 0: "INFO", 4: "WARN", 8: "ERROR" };

const STATUSES = { "": "any", ok: "2xx", redirect: "3xx", client: "4xx", server: "5xx", failed: "400 and above" };
const STATUS_FILTERS = {
  ok: "data.status >= 200 && data.status < 300", redirect: "data.status >= 300 && data.status < 400",
  client: "data.status >= 400 && data.status < 500", server: "data.status >= 500", failed: "data.status >= 400",
};
const METHODS = ["GET", "POST", "PATCH", "PUT", "DELETE", "HEAD", "OPTIONS"];
const NO_FILTERS = { level: "", status: "", method: "", url: "", from: "", to: "", text: "" };

// a string literal of the filter syntax, where only an escaped quote loses its backslash (the
// server binds it as a parameter; the quoting only keeps it one literal)
function quoted(text) {
  return `"${text.replace(/"/g, '\\"')}"`;
}

// one filter expression from the form: every part must hold
export function logsFilter(form) {
  const parts = [];
  if (form.level !== "") parts.push(`level = ${Number(form.level)}`);
  if (STATUS_FILTERS[form.status]) parts.push(STATUS_FILTERS[form.status]);
  if (form.method) parts.push(`data.method = ${quoted(form.method)}`);
  if (form.url.trim()) parts.push(`data.url ~ ${quoted(form.url.trim())}`);
  if (form.from) parts.push(`created >= ${quoted(`${form.from} 00:00:00.000Z`)}`);
  if (form.to) parts.push(`created <= ${quoted(`${form.to} 23:59:59.999Z`)}`);
  if (form.text.trim()) parts.push(`(${form.text.trim()})`);
  return parts.join(" && ");
}

export function Logs() {
  const [form, setForm] = useState(NO_FILTERS);
  const [applied, setApplied] = useState("");
  const [page, setPage] = useState(1);
  const [logs, setLogs] = useState(null);
  const [stats, setStats] = useState([]);
  const [open, setOpen] = useState(null);
  const { error, run } = useAction();
  useEffect(() => {
    run(async () => {
      const query = { page, perPage: 50, sort: "-created", filter: applied };
      const [list, counts] = await Promise.all([
        api("GET", "/api/logs", { query }),
        api("GET", "/api/logs/stats", { query: { filter: applied } }),
      ]);
      setLogs(list);
      setStats(counts);
    });
  }, [page, applied]);
  const set = (key) => (value) => setForm({ ...form, [key]: value });
  const apply = (next) => {
    setPage(1);
    setApplied(logsFilter(next));
  };
  const choose = (key, label, options) => (
    <Field label={label}>
      {(id) => (
        <select id={id} value={form[key]} onChange={(e) => set(key)(e.currentTarget.value)}>
          {Object.entries(options).map(([value, text]) => <option key={value} value={value}>{text}</option>)}
        </select>
      )}
    </Field>
  );
  return (
    <section>
      <h1>Request logs</h1>
      <form class="stack" role="search" aria-label="Search the logs" onSubmit={(e) => { e.preventDefault(); apply(form); }}>
        <div class="row wrap filters">
          {choose("level", "Level", { "": "any", ...LEVELS })}
          {choose("status", "Status", STATUSES)}
          {choose("method", "Method", Object.fromEntries([["", "any"], ...METHODS.map((m) => [m, m])]))}
          <TextInput label="URL contains" class="mono" value={form.url} onInput={set("url")} />
          <TextInput label="From" type="date" value={form.from} onInput={set("from")} />
          <TextInput label="To" type="date" value={form.to} onInput={set("to")} />
        </div>
        <div class="row end">
          <TextInput label="Filter" class="mono" placeholder='e.g. data.auth = "_superusers" || data.execTime > 100' value={form.text} onInput={set("text")} />
          <button type="submit" class="secondary">Apply</button>
          <button type="button" class="ghost" onClick={() => { setForm(NO_FILTERS); apply(NO_FILTERS); }}>Reset</button>
        </div>
      </form>
      <ErrorBanner error={error} />
      <Chart stats={stats} />
      {logs && (
        <div class="tablewrap">
          <table class="grid">
            <thead><tr><th scope="col">Time</th><th scope="col">Level</th><th scope="col">Status</th><th scope="col">Request</th><th scope="col"><span class="sr-only">Details</span></th></tr></thead>
            <tbody>
              {logs.items.map((log) => (
                <tr key={log.id}>
                  <td class="mono small">{log.created}</td>
                  <td><span class="badge">{LEVELS[log.level] || log.level}</span></td>
                  <td>{log.data?.status ?? ""}</td>
                  <td class="mono small">{log.data?.method ? `${log.data.method} ${log.data.url}` : log.message}</td>
                  <td class="actions"><button type="button" class="ghost" onClick={() => setOpen(log)} aria-label={`Details of log ${log.id}`}>Details</button></td>
                </tr>
              ))}
              {!logs.items.length && <tr><td colspan="5" class="muted">No logs found.</td></tr>}
            </tbody>
          </table>
        </div>
      )}
      {logs && (
        <nav class="row pager" aria-label="Pages">
          <button type="button" class="ghost" disabled={page <= 1} onClick={() => setPage(page - 1)}>Previous</button>
          <span>Page {logs.page} of {Math.max(1, logs.totalPages)} · {logs.totalItems} entries</span>
          <button type="button" class="ghost" disabled={page >= logs.totalPages} onClick={() => setPage(page + 1)}>Next</button>
        </nav>
      )}
      {open && (
        <Dialog title={`Log ${open.id}`} onClose={() => setOpen(null)}>
          <LogDetails log={open} />
        </Dialog>
      )}
    </section>
  );
}

const HOUR = 3600 * 1000;
const hourOf = (date) => Date.parse(date.replace(" ", "T"));

// Requests per hour as SVG bars placed on a time axis, so quiet hours show as gaps (attributes
// only: the page allows no inline style).
function Chart({ stats }) {
  if (!stats.length) return null;
  const max = Math.max(...stats.map((s) => s.total), 1);
  const first = hourOf(stats[0].date);
  const hours = Math.round((hourOf(stats[stats.length - 1].date) - first) / HOUR) + 1;
  const width = 100 / Math.max(24, hours); // a day of hours at least, so one busy hour is not a wall
  const total = stats.reduce((sum, s) => sum + s.total, 0);
  const peak = stats.find((s) => s.total === max);
  return (
    <figure class="chart">
      <svg viewBox="0 0 100 30" preserveAspectRatio="none" role="img" aria-label={`${total} requests over ${hours} hours, at most ${max} in an hour`}>
        <line x1="0" y1="29.9" x2="100" y2="29.9" />
        {stats.map((s) => {
          const height = (s.total / max) * 28;
          const x = (Math.round((hourOf(s.date) - first) / HOUR) + 0.1) * width;
          return <rect key={s.date} x={x} y={30 - height} width={width * 0.8} height={height}><title>{`${s.date}: ${s.total}`}</title></rect>;
        })}
      </svg>
      <figcaption class="row wrap small muted">
        <span>{total} requests</span>
        <span>busiest hour {peak.date.slice(0, 16)}: {max}</span>
        <span class="spacer" />
        <span>{stats[0].date.slice(0, 16)} to {stats[stats.length - 1].date.slice(0, 16)} (UTC)</span>
      </figcaption>
    </figure>
  );
}

const DETAILS = [["Time", "created"], ["Level", "level"], ["Status", "status"], ["Method", "method"], ["URL", "url"],
  ["Time taken (ms)", "execTime"], ["Remote IP", "remoteIP"], ["User IP", "userIP"], ["Auth", "auth"],
  ["Referer", "referer"], ["User agent", "userAgent"], ["Error", "error"], ["Details", "details"]];

function LogDetails({ log }) {
  const value = (key) => (key === "created" ? log.created : key === "level" ? LEVELS[log.level] || log.level : log.data?.[key]);
  return (
    <div class="stack">
      <p>{log.message}</p>
      <dl class="details">
        {DETAILS.filter(([, key]) => value(key) !== undefined && value(key) !== "").map(([label, key]) => [
          <dt key={`t${key}`}>{label}</dt>,
          <dd key={`d${key}`} class="mono">{typeof value(key) === "object" ? JSON.stringify(value(key)) : String(value(key))}</dd>,
        ])}
      </dl>
      <details>
        <summary>All data (JSON)</summary>
        <pre class="mono pre">{JSON.stringify(log.data, null, 2)}</pre>
      </details>
    </div>
  );
}
