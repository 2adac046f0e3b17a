// Settings: application, mail (with a test e-mail) and file storage (with an S3 test).
// Secrets never come back from the API, so a section is saved alone and a secret only when typed.
import { useEffect, useState } from "preact/hooks";
import { api } from "./api.js";
import { Link } from "./router.jsx";
import { Check, ErrorBanner, Field, TextInput, useAction } from "./ui.jsx";

export const SETTINGS_TABS = [
  ["application", "Application"],
  ["mail", "Mail"],
  ["storage", "File storage"],
];

export function Settings({ tab }) {
  const [settings, setSettings] = useState(null);
  const { error, run } = useAction();
  useEffect(() => {
    run(async () => setSettings(await api("GET", "/api/settings")));
  }, []);
  return (
    <section>
      <h1>Settings</h1>
      <nav class="tabs" aria-label="Settings sections">
        {SETTINGS_TABS.map(([key, label]) => (
          <Link key={key} to={`/settings/${key}`} aria-current={tab === key ? "page" : undefined}>{label}</Link>
        ))}
      </nav>
      <ErrorBanner error={error} />
      {settings && tab === "application" && <Application settings={settings} onSaved={setSettings} />}
      {settings && tab === "mail" && <Mail settings={settings} onSaved={setSettings} />}
      {settings && tab === "storage" && <Storage settings={settings} onSaved={setSettings} />}
    </section>
  );
}

function useSection(settings, pick, onSaved) {
  const [draft, setDraft] = useState(() => structuredClone(pick(settings)));
  const [saved, setSaved] = useState(false);
  const action = useAction();
  const save = (event, body) => {
    event.preventDefault();
    setSaved(false);
    action.run(async () => {
      onSaved(await api("PATCH", "/api/settings", { body: body || draft }));
      setSaved(true);
    });
  };
  const set = (section, key) => (value) => setDraft({ ...draft, [section]: { ...draft[section], [key]: value } });
  return { draft, setDraft, set, save, saved, ...action };
}

function Saved({ on }) {
  return on ? <span class="ok" role="status">Saved.</span> : null;
}

function lines(value) {
  return value.split(/[\n,]/).map((v) => v.trim()).filter(Boolean);
}

function Application({ settings, onSaved }) {
  const pick = (s) => ({ meta: s.meta, batch: s.batch, trustedProxy: s.trustedProxy, logs: s.logs, superuserIPs: s.superuserIPs });
  const { draft, setDraft, set, save, saved, busy, error } = useSection(settings, pick, onSaved);
  return (
    <form class="stack" onSubmit={save}>
      <ErrorBanner error={error} />
      <div class="row">
        <TextInput label="Application name" value={draft.meta.appName} onInput={set("meta", "appName")} error={error} path="meta.appName" />
        <TextInput label="Application URL" type="url" value={draft.meta.appURL} onInput={set("meta", "appURL")} error={error} path="meta.appURL" />
      </div>
      <Check label="Hide collection create and edit controls" checked={draft.meta.hideControls} onChange={set("meta", "hideControls")} />
      <fieldset>
        <legend>Batch API</legend>
        <Check label="Enabled" checked={draft.batch.enabled} onChange={set("batch", "enabled")} />
        <div class="row">
          <TextInput label="Max requests in a batch" type="number" value={draft.batch.maxRequests} onInput={(v) => set("batch", "maxRequests")(Number(v))} error={error} path="batch.maxRequests" />
          <TextInput label="Timeout (seconds)" type="number" value={draft.batch.timeout} onInput={(v) => set("batch", "timeout")(Number(v))} error={error} path="batch.timeout" />
          <TextInput label="Max body size (bytes, 0 = default)" type="number" value={draft.batch.maxBodySize} onInput={(v) => set("batch", "maxBodySize")(Number(v))} error={error} path="batch.maxBodySize" />
        </div>
      </fieldset>
      <fieldset>
        <legend>Network</legend>
        <TextInput label="Trusted proxy headers (comma separated, e.g. X-Forwarded-For)" value={draft.trustedProxy.headers.join(", ")}
          onInput={(v) => set("trustedProxy", "headers")(lines(v))} error={error} path="trustedProxy.headers" />
        <Check label="Use the leftmost IP of the header" checked={draft.trustedProxy.useLeftmostIP} onChange={set("trustedProxy", "useLeftmostIP")} />
        <Field label="Superuser IPs (IPs or CIDR subnets, one a line; empty allows any address)" error={error} path="superuserIPs">
          {(id) => <textarea id={id} rows="2" class="mono" value={draft.superuserIPs.join("\n")} onInput={(e) => setDraft({ ...draft, superuserIPs: lines(e.currentTarget.value) })} />}
        </Field>
      </fieldset>
      <fieldset>
        <legend>Request logs</legend>
        <div class="row">
          <TextInput label="Keep logs for (days, 0 disables logging)" type="number" value={draft.logs.maxDays} onInput={(v) => set("logs", "maxDays")(Number(v))} error={error} path="logs.maxDays" />
          <TextInput label="Minimum level" type="number" value={draft.logs.minLevel} onInput={(v) => set("logs", "minLevel")(Number(v))} error={error} path="logs.minLevel" />
        </div>
        <Check label="Log the client IP" checked={draft.logs.logIP} onChange={set("logs", "logIP")} />
        <Check label="Log the auth record id" checked={draft.logs.logAuthId} onChange={set("logs", "logAuthId")} />
      </fieldset>
      <div class="row end"><Saved on={saved} /><button type="submit" disabled={busy}>Save changes</button></div>
    </form>
  );
}

function Mail({ settings, onSaved }) {
  const pick = (s) => ({ meta: { senderName: s.meta.senderName, senderAddress: s.meta.senderAddress }, smtp: { ...s.smtp, password: "" } });
  const { draft, set, save, saved, busy, error } = useSection(settings, pick, onSaved);
  const submit = (event) => {
    const body = structuredClone(draft);
    if (!body.smtp.password) delete body.smtp.password;
    save(event, body);
  };
  return (
    <>
      <form class="stack" onSubmit={submit}>
        <ErrorBanner error={error} />
        <div class="row">
          <TextInput label="Sender name" value={draft.meta.senderName} onInput={set("meta", "senderName")} error={error} path="meta.senderName" />
          <TextInput label="Sender address" type="email" value={draft.meta.senderAddress} onInput={set("meta", "senderAddress")} error={error} path="meta.senderAddress" />
        </div>
        <fieldset>
          <legend>SMTP server</legend>
          <Check label="Send mail through this SMTP server" checked={draft.smtp.enabled} onChange={set("smtp", "enabled")} />
          <div class="row">
            <TextInput label="Host" value={draft.smtp.host} onInput={set("smtp", "host")} error={error} path="smtp.host" />
            <TextInput label="Port" type="number" value={draft.smtp.port} onInput={(v) => set("smtp", "port")(Number(v))} error={error} path="smtp.port" />
          </div>
          <div class="row">
            <TextInput label="Username" autocomplete="off" value={draft.smtp.username} onInput={set("smtp", "username")} error={error} path="smtp.username" />
            <TextInput label="Password (leave empty to keep)" type="password" autocomplete="new-password" value={draft.smtp.password} onInput={set("smtp", "password")} error={error} path="smtp.password" />
          </div>
          <div class="row">
            <Field label="Auth method" error={error} path="smtp.authMethod">
              {(id) => (
                <select id={id} value={draft.smtp.authMethod} onChange={(e) => set("smtp", "authMethod")(e.currentTarget.value)}>
                  <option value="">default (PLAIN)</option><option value="PLAIN">PLAIN</option><option value="LOGIN">LOGIN</option>
                </select>
              )}
            </Field>
            <TextInput label="Local name (HELO)" value={draft.smtp.localName} onInput={set("smtp", "localName")} error={error} path="smtp.localName" />
          </div>
          <Check label="Always use TLS" checked={draft.smtp.tls} onChange={set("smtp", "tls")} />
        </fieldset>
        <div class="row end"><Saved on={saved} /><button type="submit" disabled={busy}>Save changes</button></div>
      </form>
      <TestEmail />
    </>
  );
}

function TestEmail() {
  const [to, setTo] = useState("");
  const [template, setTemplate] = useState("verification");
  const [sent, setSent] = useState(false);
  const { busy, error, run } = useAction();
  const send = (event) => {
    event.preventDefault();
    setSent(false);
    run(async () => {
      await api("POST", "/api/settings/test/email", { body: { email: to, template, collection: "_superusers" } });
      setSent(true);
    });
  };
  return (
    <form class="card stack" onSubmit={send} aria-labelledby="test-email-title">
      <h2 id="test-email-title">Send a test e-mail</h2>
      <ErrorBanner error={error} />
      <div class="row">
        <TextInput label="To" type="email" required value={to} onInput={setTo} error={error} path="email" />
        <Field label="Template" error={error} path="template">
          {(id) => (
            <select id={id} value={template} onChange={(e) => setTemplate(e.currentTarget.value)}>
              {["verification", "password-reset", "email-change", "otp", "login-alert"].map((t) => <option key={t} value={t}>{t}</option>)}
            </select>
          )}
        </Field>
        <button type="submit" class="secondary" disabled={busy}>Send</button>
      </div>
      {sent && <span class="ok" role="status">Test e-mail sent to {to}.</span>}
    </form>
  );
}

function Storage({ settings, onSaved }) {
  const pick = (s) => ({ s3: { ...s.s3, secret: "" } });
  const { draft, set, save, saved, busy, error } = useSection(settings, pick, onSaved);
  const test = useAction();
  const [tested, setTested] = useState(false);
  const submit = (event) => {
    const body = structuredClone(draft);
    if (!body.s3.secret) delete body.s3.secret;
    save(event, body);
  };
  const runTest = () => {
    setTested(false);
    test.run(async () => {
      await api("POST", "/api/settings/test/s3", { body: { filesystem: "storage" } });
      setTested(true);
    });
  };
  return (
    <form class="stack" onSubmit={submit}>
      <ErrorBanner error={error} />
      <p class="muted">Uploaded files are kept on the local disk unless S3 storage is enabled.</p>
      <Check label="Store files in S3-compatible storage" checked={draft.s3.enabled} onChange={set("s3", "enabled")} />
      <div class="row">
        <TextInput label="Endpoint" value={draft.s3.endpoint} onInput={set("s3", "endpoint")} error={error} path="s3.endpoint" />
        <TextInput label="Bucket" value={draft.s3.bucket} onInput={set("s3", "bucket")} error={error} path="s3.bucket" />
        <TextInput label="Region" value={draft.s3.region} onInput={set("s3", "region")} error={error} path="s3.region" />
      </div>
      <div class="row">
        <TextInput label="Access key" autocomplete="off" value={draft.s3.accessKey} onInput={set("s3", "accessKey")} error={error} path="s3.accessKey" />
        <TextInput label="Secret (leave empty to keep)" type="password" autocomplete="new-password" value={draft.s3.secret} onInput={set("s3", "secret")} error={error} path="s3.secret" />
      </div>
      <Check label="Force path-style addressing" checked={draft.s3.forcePathStyle} onChange={set("s3", "forcePathStyle")} />
      <ErrorBanner error={test.error} />
      {tested && <span class="ok" role="status">The S3 connection works.</span>}
      <div class="row end">
        <Saved on={saved} />
        {settings.s3.enabled && <button type="button" class="secondary" disabled={test.busy} onClick={runTest}>Test the saved S3 connection</button>}
        <button type="submit" disabled={busy}>Save changes</button>
      </div>
    </form>
  );
}
