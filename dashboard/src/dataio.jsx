// Export and import of a collection's records (GET .../export, POST .../import). The export is
// fetched with the superuser's token and saved from a Blob URL, so the download carries the
// same rights as the grid and the token never goes into a URL.
import { useState } from "preact/hooks";
import { api } from "./api.js";
import { ErrorBanner, useAction, useId } from "./ui.jsx";

const FORMATS = { csv: ["Export CSV", "text/csv", "csv"], jsonl: ["Export JSON lines", "application/jsonl", "jsonl"] };

// the import format from the file's extension: .csv is CSV, anything else JSON lines
function formatOf(file) {
  return /\.csv$/i.test(file.name) ? "csv" : "jsonl";
}

export function DataTransfer({ collection, query, onImported }) {
  const [file, setFile] = useState(null);
  const [continueOnError, setContinueOnError] = useState(false);
  const [report, setReport] = useState(null);
  const { busy, error, setError, run } = useAction();
  const fileId = useId("import");
  const checkId = useId("import-continue");
  const base = `/api/collections/${encodeURIComponent(collection.name)}`;

  const exportAs = (format) => run(async () => {
    const blob = await api("GET", `${base}/export`, { blob: true, query: { format, filter: query.filter, sort: query.sort } });
    const url = URL.createObjectURL(blob);
    const link = document.createElement("a");
    link.href = url;
    link.download = `${collection.name}.${FORMATS[format][2]}`;
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  });

  const importFile = (event) => {
    event.preventDefault();
    if (!file) return;
    setReport(null);
    run(async () => {
      const format = formatOf(file);
      try {
        setReport(await api("POST", `${base}/import`, {
          body: file, contentType: FORMATS[format][1], query: { format, continueOnError: continueOnError ? "true" : undefined },
        }));
      } catch (exc) {
        // a failing chunk answers 400 whose data is the report: show it, not just the message
        if (exc.data && typeof exc.data.rows === "number") {
          setReport({ ...exc.data, message: exc.message });
          setError(null);
        } else throw exc;
      } finally {
        onImported();
      }
    });
  };

  return (
    <div class="dataio">
      <div class="row wrap">
        {Object.entries(FORMATS).map(([format, [label]]) => (
          <button key={format} type="button" class="ghost" disabled={busy} onClick={() => exportAs(format)}>{label}</button>
        ))}
        {collection.type !== "view" && (
          <form class="row wrap" onSubmit={importFile} aria-label="Import records">
            <label for={fileId}>Import file (.csv or .jsonl)</label>
            <input id={fileId} type="file" accept=".csv,.jsonl,.ndjson,.json,text/csv,application/jsonl"
              onChange={(e) => setFile(e.currentTarget.files[0] || null)} />
            <span class="check">
              <input id={checkId} type="checkbox" checked={continueOnError} onChange={(e) => setContinueOnError(e.currentTarget.checked)} />
              <label for={checkId}>Skip failing rows</label>
            </span>
            <button type="submit" class="secondary" disabled={busy || !file}>Import</button>
          </form>
        )}
      </div>
      <ErrorBanner error={error} />
      {report && <ImportReport report={report} onClose={() => setReport(null)} />}
    </div>
  );
}

function ImportReport({ report, onClose }) {
  return (
    <div class={"banner " + (report.message ? "danger" : "notice")} role="status" aria-label="Import report">
      {report.message && <strong>{report.message}</strong>}
      <p>
        {report.committed} of {report.rows} rows committed{report.skipped ? `, ${report.skipped} skipped` : ""}
        {report.failed ? `, ${report.failed} failed` : ""}.
        {report.nextRow ? ` Fix the rows and import the file again from row ${report.nextRow} (skip=${report.nextRow - 1}).` : ""}
      </p>
      {report.errors?.length > 0 && (
        <table class="grid">
          <thead><tr><th scope="col">Row</th><th scope="col">Error</th><th scope="col">Fields</th></tr></thead>
          <tbody>
            {report.errors.map((row) => (
              <tr key={row.row}>
                <td>{row.row}</td>
                <td>{row.message} <span class="muted small">({row.code})</span></td>
                <td class="small">
                  {Object.entries(row.data || {}).map(([field, problem]) => (
                    <div key={field}><code>{field}</code>: {problem?.message || JSON.stringify(problem)}</div>
                  ))}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <button type="button" class="ghost" onClick={onClose}>Close report</button>
    </div>
  );
}
