// API keys (GET/POST /api/keys, DELETE /api/keys/{id}): list, create (the key itself is shown
// once, with a copy button), revoke after a confirmation.
import { useEffect, useRef, useState } from "preact/hooks";
import { api } from "./api.js";
import { Dialog } from "./collections.jsx";
import { useFocusError } from "./forms.jsx";
import { ErrorBanner, TextInput, useAction } from "./ui.jsx";

const words = (text) => text.split(/[\s,]+/).filter(Boolean);

export function ApiKeys() {
  const [list, setList] = useState(null);
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState(null);
  const [confirm, setConfirm] = useState("");
  const { busy, error, run } = useAction();
  const load = () => run(async () => setList(await api("GET", "/api/keys")));
  useEffect(() => {
    load();
  }, []);
  const revoke = (key) => run(async () => {
    await api("DELETE", `/api/keys/${encodeURIComponent(key.id)}`);
    setConfirm("");
    if (created && created.id === key.id) setCreated(null);
    await load();
  });
  return (
    <section>
      <div class="pagehead">
        <h1>API keys</h1>
        <button type="button" onClick={() => setCreating(true)}>New API key</button>
      </div>
      <p class="muted small">A key acts as its own principal (<code>@request.auth.collectionName = "_apiKeys"</code>),
        limited by its scopes before any rule; it never reaches the superuser APIs.</p>
      <ErrorBanner error={error} />
      {created && <NewKey created={created} onDone={() => setCreated(null)} />}
      {list && (list.length === 0 ? <p class="muted">No API keys yet.</p> : (
        <table class="grid">
          <thead>
            <tr>
              <th scope="col">Name</th><th scope="col">Prefix</th><th scope="col">Scopes</th><th scope="col">Allowed IPs</th>
              <th scope="col">Expires</th><th scope="col">Last used</th><th scope="col"><span class="sr-only">Actions</span></th>
            </tr>
          </thead>
          <tbody>
            {list.map((key) => (
              <tr key={key.id}>
                <td>{key.name}</td>
                <td><code>{key.prefix}…</code></td>
                <td class="small">{key.scopes.join(", ")}</td>
                <td class="small">{key.allowedIPs.length ? key.allowedIPs.join(", ") : <span class="muted">any</span>}</td>
                <td class="small">{key.expires || <span class="muted">never</span>}</td>
                <td class="small">{key.lastUsed || <span class="muted">never</span>}</td>
                <td class="actions">
                  {confirm === key.id ? (
                    <>
                      <button type="button" class="danger" disabled={busy} onClick={() => revoke(key)}>Really revoke {key.name}</button>
                      <button type="button" class="ghost" onClick={() => setConfirm("")}>Keep</button>
                    </>
                  ) : (
                    <button type="button" class="ghost dangertext" onClick={() => setConfirm(key.id)} aria-label={`Revoke API key ${key.name}`}>Revoke</button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ))}
      {creating && (
        <KeyForm onClose={() => setCreating(false)} onCreated={(key) => {
          setCreating(false);
          setCreated(key);
          load();
        }} />
      )}
    </section>
  );
}

// The plaintext key of the key just created: shown here once, never again.
function NewKey({ created, onDone }) {
  const [copied, setCopied] = useState("");
  const field = useRef(null);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(created.key);
      setCopied("Copied.");
    } catch (exc) {
      field.current.select();
      setCopied("Select and copy it by hand (the browser refused the clipboard).");
    }
  };
  return (
    <div class="banner notice" role="status">
      <strong>Key “{created.name}” created. Copy it now: it is not shown again.</strong>
      <div class="row">
        <input ref={field} readonly aria-label="New API key" value={created.key} class="mono grow" onFocus={(e) => e.currentTarget.select()} />
        <button type="button" onClick={copy}>Copy</button>
        <button type="button" class="ghost" onClick={onDone}>Done</button>
      </div>
      {copied && <small class="muted">{copied}</small>}
    </div>
  );
}

function KeyForm({ onClose, onCreated }) {
  const [form, setForm] = useState({ name: "", scopes: "", expires: "", allowedIPs: "" });
  const { busy, error, run } = useAction();
  const box = useFocusError(error);
  const set = (key) => (value) => setForm({ ...form, [key]: value });
  const save = (event) => {
    event.preventDefault();
    run(async () => {
      const body = { name: form.name, scopes: words(form.scopes), allowedIPs: words(form.allowedIPs) };
      // the picker's value has no zone: it is read as UTC, like the record form's dates
      if (form.expires) {
        const [day, time] = form.expires.split("T");
        body.expires = `${day} ${(time + ":00").slice(0, 8)}.000Z`;
      }
      onCreated(await api("POST", "/api/keys", { body }));
    });
  };
  return (
    <Dialog title="New API key" onClose={onClose}>
      <form class="stack" onSubmit={save} ref={box}>
        <ErrorBanner error={error} />
        <TextInput label="Name" autocomplete="off" value={form.name} onInput={set("name")} error={error} path="name" />
        <TextInput label="Scopes" autocomplete="off" value={form.scopes} onInput={set("scopes")} error={error} path="scopes"
          placeholder="posts:list posts:view" hint={'Separated by spaces or commas: "collection:operation" (list, view, create, update, delete or *), or * for everything.'} />
        <TextInput label="Expires (UTC, optional)" type="datetime-local" value={form.expires} onInput={set("expires")} error={error} path="expires" />
        <TextInput label="Allowed IPs (optional)" autocomplete="off" value={form.allowedIPs} onInput={set("allowedIPs")} error={error} path="allowedIPs"
          placeholder="10.0.0.0/8 192.168.1.7" hint="IP addresses or CIDR ranges, separated by spaces or commas; empty: any address." />
        <div class="row end">
          <span class="spacer" />
          <button type="button" class="ghost" onClick={onClose}>Cancel</button>
          <button type="submit" disabled={busy}>Create key</button>
        </div>
      </form>
    </Dialog>
  );
}
