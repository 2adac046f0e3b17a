// The running instance as its public API reports it: readiness from GET /api/health and the
// superuser-readable Prometheus metrics of GET /api/metrics (workers, HTTP, database pool,
// response cache, realtime, mail, background jobs). Nothing here is estimated or made up.
import { useEffect, useState } from "preact/hooks";
import { api } from "./api.js";
import { ErrorBanner, useAction } from "./ui.jsx";

const SERIES = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /(\w+)="((?:[^"\\]|\\.)*)"/g;

// Prometheus' text format, one {name, labels, value} per sample line
export function parseMetrics(text) {
  const samples = [];
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const found = line.match(SERIES);
    if (!found) continue;
    const labels = Object.fromEntries([...(found[2] || "").matchAll(LABEL)].map((m) => [m[1], m[2]]));
    samples.push({ name: found[1], labels, value: Number(found[3]) });
  }
  return samples;
}

function sum(samples, name, where = () => true) {
  const picked = samples.filter((s) => s.name === name && where(s.labels));
  return picked.length ? picked.reduce((total, s) => total + s.value, 0) : undefined;
}

const bytes = (n) => (n >= 1 << 30 ? `${(n / (1 << 30)).toFixed(2)} GB` : `${(n / (1 << 20)).toFixed(1)} MB`);
const count = (n) => (n === undefined ? undefined : Math.round(n).toLocaleString("en"));
const millis = (seconds, n) => (n ? `${((seconds / n) * 1000).toFixed(1)} ms` : undefined);
function since(epochSeconds) {
  const minutes = Math.floor((Date.now() / 1000 - epochSeconds) / 60);
  if (minutes < 60) return `${minutes} min`;
  if (minutes < 48 * 60) return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
  return `${Math.floor(minutes / 1440)} days`;
}

function Card({ title, rows }) {
  const shown = rows.filter(([, value]) => value !== undefined);
  if (!shown.length) return null;
  return (
    <section class="card tile" aria-label={title}>
      <h2>{title}</h2>
      <dl class="details">
        {shown.map(([label, value]) => [<dt key={`t${label}`}>{label}</dt>, <dd key={`d${label}`}>{value}</dd>])}
      </dl>
    </section>
  );
}

export function Instance() {
  const [health, setHealth] = useState(null);
  const [samples, setSamples] = useState(null);
  const [metricsOff, setMetricsOff] = useState(false);
  const { busy, error, run } = useAction();
  const load = () => run(async () => {
    setHealth(await api("GET", "/api/health"));
    try {
      setSamples(parseMetrics(await api("GET", "/api/metrics", { text: true })));
    } catch (exc) {
      if (exc.status !== 404) throw exc;
      setMetricsOff(true);
    }
  });
  useEffect(() => {
    load();
  }, []);
  const problems = Object.entries(health?.data || {}).filter(([, v]) => v && typeof v === "object" && v.code);
  return (
    <section>
      <div class="pagehead">
        <h1>Instance</h1>
        <button type="button" class="secondary" disabled={busy} onClick={load}>Refresh</button>
      </div>
      <ErrorBanner error={error} />
      {health && (
        <Card title="Health" rows={[
          ["Status", health.message],
          ...problems.map(([name, problem]) => [name, `${problem.code}: ${problem.message}`]),
          ["Backups possible now", health.data?.canBackup === undefined ? undefined : health.data.canBackup ? "yes" : "no (one is running)"],
          ["Your address as seen", health.data?.realIP],
        ]} />
      )}
      {metricsOff && <p class="muted">Metrics are off (<code>--no-metrics</code> or the metrics setting), so only health is shown.</p>}
      {samples && <Metrics samples={samples} />}
    </section>
  );
}

const DATABASES = { sqlite: "SQLite (embedded)", postgresql: "PostgreSQL", mysql: "MySQL / MariaDB" };

function Metrics({ samples }) {
  const workers = samples.filter((s) => s.name === "process_start_time_seconds");
  const of = (name, pid) => samples.find((s) => s.name === name && s.labels.pid === pid)?.value;
  const requests = sum(samples, "roost_http_requests_total");
  const status = (low, high) =>
    requests === undefined ? undefined : sum(samples, "roost_http_requests_total", (l) => Number(l.status) >= low && Number(l.status) < high) || 0;
  const queries = sum(samples, "roost_db_query_duration_seconds_count");
  const hits = sum(samples, "roost_cache_requests_total", (l) => l.result === "hit");
  const misses = sum(samples, "roost_cache_requests_total", (l) => l.result === "miss");
  const lookups = (hits || 0) + (misses || 0);
  const info = samples.find((s) => s.name === "roost_info");
  const runs = (outcome) => sum(samples, "roost_job_runs_total", (l) => l.outcome === outcome);
  return (
    <>
      {workers.length > 0 && (
        <div class="tablewrap">
          <table class="grid" aria-label="Processes">
            <thead><tr><th scope="col">Process</th><th scope="col">Up for</th><th scope="col">Memory (resident)</th><th scope="col">CPU time</th><th scope="col">Open files</th></tr></thead>
            <tbody>
              {workers.map((w) => (
                <tr key={w.labels.pid || "self"}>
                  <td>{w.labels.pid ? `worker ${w.labels.pid}` : "this process"}</td>
                  <td>{since(w.value)}</td>
                  <td>{bytes(of("process_resident_memory_bytes", w.labels.pid) || 0)}</td>
                  <td>{(of("process_cpu_seconds_total", w.labels.pid) || 0).toFixed(1)} s</td>
                  <td>{count(of("process_open_fds", w.labels.pid))} of {count(of("process_max_fds", w.labels.pid))}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <div class="tiles">
        <Card title="HTTP" rows={[
          ["Requests answered", count(requests)],
          ["Client errors (4xx)", count(status(400, 500))],
          ["Server errors (5xx)", count(status(500, 600))],
          ["Mean time", millis(sum(samples, "roost_http_request_duration_seconds_sum"), sum(samples, "roost_http_request_duration_seconds_count"))],
          ["In flight now", count(sum(samples, "roost_http_requests_in_flight"))],
          ["Refused by rate limits", count(sum(samples, "roost_ratelimit_rejections_total"))],
        ]} />
        <Card title="Database" rows={[
          ["Kind", DATABASES[info?.labels.database] || info?.labels.database],
          ["Roost version", info?.labels.version],
          ["Pool connections", count(sum(samples, "roost_db_pool_size"))],
          ["In use now", count(sum(samples, "roost_db_pool_checked_out"))],
          ["SQL statements", count(queries)],
          ["Mean statement time", millis(sum(samples, "roost_db_query_duration_seconds_sum"), queries)],
        ]} />
        <Card title="Response cache" rows={[
          ["Hits", count(hits)],
          ["Misses", count(misses)],
          ["Hit ratio", lookups ? `${((hits / lookups) * 100).toFixed(1)} %` : hits === undefined ? undefined : "no lookups yet"],
        ]} />
        <Card title="Realtime" rows={[
          ["Open connections", count(sum(samples, "roost_realtime_connections"))],
          ["Messages delivered", count(sum(samples, "roost_realtime_events_total", (l) => l.outcome === "delivered"))],
          ["Messages dropped", count(sum(samples, "roost_realtime_events_total", (l) => l.outcome === "dropped"))],
          ["Slow clients closed", count(sum(samples, "roost_realtime_clients_dropped_total"))],
        ]} />
        <Card title="Mail" rows={[
          ["Sent", count(sum(samples, "roost_mail_messages_total", (l) => l.outcome === "sent"))],
          ["Failed", count(sum(samples, "roost_mail_messages_total", (l) => l.outcome === "failed"))],
          ["Waiting", count(sum(samples, "roost_mail_queue_size"))],
        ]} />
        <Card title="Background jobs and crons" rows={[
          ["Runs succeeded", count(runs("success"))],
          ["Runs failed", count(runs("failure"))],
          ["Runs to retry", count(runs("retry"))],
        ]} />
      </div>
    </>
  );
}
