// Backups (create, download, restore, delete) and the cron jobs (list, run now).
import { useEffect, useState } from "preact/hooks";
import { api } from "./api.js";
import { ErrorBanner, TextInput, useAction } from "./ui.jsx";

function size(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} kB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

export function Backups() {
  const [list, setList] = useState(null);
  const [name, setName] = useState("");
  const [confirm, setConfirm] = useState("");
  const { busy, error, run } = useAction();
  const load = () => run(async () => setList(await api("GET", "/api/backups")));
  useEffect(() => {
    load();
  }, []);
  const create = (event) => {
    event.preventDefault();
    run(async () => {
      await api("POST", "/api/backups", { body: name ? { name } : {} });
      setName("");
      setList(await api("GET", "/api/backups"));
    });
  };
  const download = (key) => run(async () => {
    const { token } = await api("POST", "/api/files/token");
    location.assign(`/api/backups/${encodeURIComponent(key)}?token=${encodeURIComponent(token)}`);
  });
  const remove = (key) => run(async () => {
    await api("DELETE", `/api/backups/${encodeURIComponent(key)}`);
    setConfirm("");
    setList(await api("GET", "/api/backups"));
  });
  const restore = (key) => run(async () => {
    await api("POST", `/api/backups/${encodeURIComponent(key)}/restore`);
    setConfirm("");
  });
  return (
    <section>
      <h1>Backups</h1>
      <form class="row end" onSubmit={create}>
        <TextInput label="Name (optional, ends in .zip)" value={name} onInput={setName} error={error} path="name" />
        <button type="submit" disabled={busy}>Create backup</button>
      </form>
      <ErrorBanner error={error} />
      {list && (
        <table class="grid">
          <thead><tr><th scope="col">Name</th><th scope="col">Size</th><th scope="col">Modified</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
          <tbody>
            {list.map((b) => (
              <tr key={b.key}>
                <td class="mono">{b.key}</td>
                <td>{size(b.size)}</td>
                <td class="small">{b.modified}</td>
                <td class="actions">
                  <button type="button" class="ghost" onClick={() => download(b.key)}>Download</button>
                  {confirm === `restore:${b.key}` ? (
                    <button type="button" class="danger" disabled={busy} onClick={() => restore(b.key)}>Really restore (the server restarts)</button>
                  ) : (
                    <button type="button" class="ghost" onClick={() => setConfirm(`restore:${b.key}`)}>Restore</button>
                  )}
                  {confirm === `delete:${b.key}` ? (
                    <button type="button" class="danger" disabled={busy} onClick={() => remove(b.key)}>Really delete</button>
                  ) : (
                    <button type="button" class="ghost dangertext" onClick={() => setConfirm(`delete:${b.key}`)} aria-label={`Delete backup ${b.key}`}>Delete</button>
                  )}
                </td>
              </tr>
            ))}
            {!list.length && <tr><td colspan="4" class="muted">No backups yet.</td></tr>}
          </tbody>
        </table>
      )}
    </section>
  );
}

export function Crons() {
  const [list, setList] = useState(null);
  const [ran, setRan] = useState("");
  const { busy, error, run } = useAction();
  useEffect(() => {
    run(async () => setList(await api("GET", "/api/crons")));
  }, []);
  const start = (id) => run(async () => {
    setRan("");
    await api("POST", `/api/crons/${encodeURIComponent(id)}`);
    setRan(id);
  });
  return (
    <section>
      <h1>Cron jobs</h1>
      <ErrorBanner error={error} />
      {ran && <span class="ok" role="status">Started {ran}.</span>}
      {list && (
        <table class="grid">
          <thead><tr><th scope="col">Job</th><th scope="col">Schedule</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
          <tbody>
            {list.map((job) => (
              <tr key={job.id}>
                <td class="mono">{job.id}</td>
                <td class="mono">{job.expression}</td>
                <td class="actions"><button type="button" class="ghost" disabled={busy} onClick={() => start(job.id)} aria-label={`Run ${job.id} now`}>Run now</button></td>
              </tr>
            ))}
            {!list.length && <tr><td colspan="3" class="muted">No cron jobs.</td></tr>}
          </tbody>
        </table>
      )}
    </section>
  );
}
