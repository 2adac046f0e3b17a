// Superusers: the records of _superusers through the records API (list, create, change the
// e-mail or password, delete). Changing one's own password ends its tokens, so the page signs
// in again with the new password before it reads anything else.
import { useEffect, useState } from "preact/hooks";
import { api, auth, SUPERUSERS } from "./api.js";
import { useFocusError } from "./forms.jsx";
import { Dialog } from "./collections.jsx";
import { Link, navigate } from "./router.jsx";
import { ErrorBanner, TextInput, useAction } from "./ui.jsx";

export function Superusers() {
  const [list, setList] = useState(null);
  const [editing, setEditing] = useState(null);
  const { error, run } = useAction();
  const load = () => run(async () => setList((await api("GET", `${SUPERUSERS}/records`, { query: { perPage: 500, sort: "email" } })).items));
  useEffect(() => {
    load();
  }, []);
  const me = auth.record?.id;
  return (
    <section>
      <div class="pagehead">
        <h1>Superusers</h1>
        <button type="button" onClick={() => setEditing({})}>New superuser</button>
      </div>
      <p class="muted small">Superuser sign-in options (OTP, MFA, TOTP, passkeys, token lifetimes) are those of the
        _superusers collection: edit it on the <Link to="/collections">Collections</Link> page with system collections shown.</p>
      <ErrorBanner error={error} />
      {list && (
        <table class="grid">
          <thead><tr><th scope="col">E-mail</th><th scope="col">Created</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
          <tbody>
            {list.map((r) => (
              <tr key={r.id}>
                <td>{r.email}{r.id === me && <> <span class="badge">you</span></>}</td>
                <td class="small">{r.created}</td>
                <td class="actions">
                  <button type="button" class="ghost" onClick={() => setEditing(r)} aria-label={`Edit superuser ${r.email}`}>Edit</button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {editing && (
        <SuperuserForm record={editing} self={editing.id === me} onClose={() => setEditing(null)}
          onSaved={() => {
            setEditing(null);
            load();
          }} />
      )}
    </section>
  );
}

function SuperuserForm({ record, self, onClose, onSaved }) {
  const isNew = !record.id;
  const [form, setForm] = useState({ email: record.email || "", password: "", passwordConfirm: "" });
  const [confirming, setConfirming] = useState(false);
  const { busy, error, run } = useAction();
  const box = useFocusError(error);
  const set = (key) => (value) => setForm({ ...form, [key]: value });
  const save = (event) => {
    event.preventDefault();
    run(async () => {
      const body = form.password ? form : { email: form.email };
      if (isNew) await api("POST", `${SUPERUSERS}/records`, { body });
      else await api("PATCH", `${SUPERUSERS}/records/${record.id}`, { body });
      if (self && form.password) {
        const signed = await api("POST", `${SUPERUSERS}/auth-with-password`, { body: { identity: form.email, password: form.password }, token: "" });
        auth.set(signed.token, signed.record);
      }
      onSaved();
    });
  };
  const remove = () => run(async () => {
    await api("DELETE", `${SUPERUSERS}/records/${record.id}`);
    if (self) {
      auth.set("", null);
      navigate("/login", true);
    } else onSaved();
  });
  return (
    <Dialog title={isNew ? "New superuser" : `Edit superuser ${record.email}`} onClose={onClose}>
      <form class="stack" onSubmit={save} ref={box}>
        <ErrorBanner error={error} />
        <TextInput label="Email" type="email" required autocomplete="off" value={form.email} onInput={set("email")} error={error} path="email" />
        <TextInput label={isNew ? "Password" : "New password (leave empty to keep)"} type="password" autocomplete="new-password" required={isNew}
          value={form.password} onInput={set("password")} error={error} path="password" />
        <TextInput label="Password again" type="password" autocomplete="new-password" required={isNew || !!form.password}
          value={form.passwordConfirm} onInput={set("passwordConfirm")} error={error} path="passwordConfirm" />
        {self && <p class="muted small">Changing your own password signs out your other sessions; this one signs in again.</p>}
        <div class="row end">
          {!isNew && (confirming ? (
            <button type="button" class="danger" disabled={busy} onClick={remove}>Really delete {record.email}</button>
          ) : (
            <button type="button" class="ghost dangertext" onClick={() => setConfirming(true)}>Delete superuser</button>
          ))}
          <span class="spacer" />
          <button type="button" class="ghost" onClick={onClose}>Cancel</button>
          <button type="submit" disabled={busy}>{isNew ? "Create" : "Save changes"}</button>
        </div>
      </form>
    </Dialog>
  );
}
