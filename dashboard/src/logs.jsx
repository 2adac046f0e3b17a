// Request logs: a chart of requests over time, a filtered list, and each entry's details.
import { useEffect, useState } from "preact/hooks";
import { api } from "./api.js";
import { Dialog } from "./collections.jsx";
import { ErrorBanner, TextInput, useAction } from "./ui.jsx";

const LEVELS = { "-4": "DEBUG", 0: "INFO", 4: "WARN", 8: "ERROR" };

export function Logs() {
  const [filter, setFilter] = useState("");
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
  return (
    <section>
      <h1>Request logs</h1>
      <form class="row end" role="search" onSubmit={(e) => { e.preventDefault(); setPage(1); setApplied(filter); }}>
        <TextInput label="Filter" class="mono" placeholder='e.g. data.status >= 400 || data.url ~ "/api/collections"' value={filter} onInput={setFilter} />
        <button type="submit" class="secondary">Apply</button>
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
          <p>{open.message}</p>
          <pre class="mono pre">{JSON.stringify(open.data, null, 2)}</pre>
        </Dialog>
      )}
    </section>
  );
}

// Requests per hour as SVG bars (attributes only: the page allows no inline style).
function Chart({ stats }) {
  if (!stats.length) return null;
  const max = Math.max(...stats.map((s) => s.total), 1);
  const width = 100 / Math.max(24, stats.length); // a day of hours at least, so one busy hour is not a wall
  const total = stats.reduce((sum, s) => sum + s.total, 0);
  return (
    <figure class="chart">
      <svg viewBox="0 0 100 30" preserveAspectRatio="none" role="img" aria-label={`${total} requests in ${stats.length} hours`}>
        {stats.map((s, i) => {
          const height = (s.total / max) * 28;
          return <rect key={s.date} x={i * width + width * 0.1} y={30 - height} width={width * 0.8} height={height}><title>{`${s.date}: ${s.total}`}</title></rect>;
        })}
      </svg>
      <figcaption class="muted small">{total} requests, {stats[0].date} to {stats[stats.length - 1].date}</figcaption>
    </figure>
  );
}
