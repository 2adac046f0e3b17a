// Settings: application (batch, network, logs), mail (with a test e-mail), file storage (with an
// S3 test), rate limits and the backup schedule.
// Secrets never come back from the API, so a section is saved alone and a secret only when typed.
import { useEffect, useState } from "preact/hooks";
import { api } from "./api.js";
import { Link } from "./router.jsx";
import { binder, ListInput, setIn, useFocusError } from "./forms.jsx";
import { Check, ErrorBanner, Field, TextInput, useAction } from "./ui.jsx";

export const SETTINGS_TABS = [
  ["application", "Application"],
  ["mail", "Mail"],
  ["storage", "File storage"],
  ["ratelimits", "Rate limits"],
  ["backups", "Backup schedule"],
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
      {settings && tab === "ratelimits" && <RateLimits settings={settings} onSaved={setSettings} />}
      {settings && tab === "backups" && <BackupSchedule settings={settings} onSaved={setSettings} />}
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
  const form = useFocusError(action.error);
  return { draft, setDraft, set, save, saved, form, ...action };
}

function Saved({ on }) {
  return on ? <span class="ok" role="status">Saved.</span> : null;
}

function Application({ settings, onSaved }) {
  const pick = (s) => ({ meta: s.meta, batch: s.batch, trustedProxy: s.trustedProxy, logs: s.logs, superuserIPs: s.superuserIPs });
  const { draft, setDraft, set, save, saved, busy, error, form } = useSection(settings, pick, onSaved);
  const [health, setHealth] = useState(null);
  useEffect(() => {
    api("GET", "/api/health").then((h) => setHealth(h.data || {}), () => {});
  }, [saved]);
  const seenIP = health && health.realIP ? `The server sees your address as ${health.realIP}.` : "";
  return (
    <form class="stack" onSubmit={save} ref={form}>
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
        <ListInput label="Trusted proxy headers (comma separated, e.g. X-Forwarded-For)" value={draft.trustedProxy.headers}
          onChange={set("trustedProxy", "headers")} error={error} path="trustedProxy.headers" hint={seenIP} />
        <Check label="Use the leftmost IP of the header" checked={draft.trustedProxy.useLeftmostIP} onChange={set("trustedProxy", "useLeftmostIP")} />
        <ListInput lines label="Superuser IPs (IPs or CIDR subnets, one a line; empty allows any address)" value={draft.superuserIPs}
          onChange={(v) => setDraft({ ...draft, superuserIPs: v })} error={error} path="superuserIPs" />
      </fieldset>
      <fieldset>
        <legend>Request logs</legend>
        <div class="row">
          <TextInput label="Keep logs for (days, 0 disables logging)" type="number" value={draft.logs.maxDays} onInput={(v) => set("logs", "maxDays")(Number(v))} error={error} path="logs.maxDays" />
          <Field label="Minimum level" error={error} path="logs.minLevel">
            {(id) => (
              <select id={id} value={draft.logs.minLevel} onChange={(e) => set("logs", "minLevel")(Number(e.currentTarget.value))}>
                {levels(draft.logs.minLevel).map(([level, name]) => <option key={level} value={level}>{name} ({level})</option>)}
              </select>
            )}
          </Field>
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
  const { draft, set, save, saved, busy, error, form } = useSection(settings, pick, onSaved);
  const submit = (event) => {
    const body = structuredClone(draft);
    if (!body.smtp.password) delete body.smtp.password;
    save(event, body);
  };
  return (
    <>
      <form class="stack" onSubmit={submit} ref={form}>
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
  const [collection, setCollection] = useState("_superusers");
  const [names, setNames] = useState(["_superusers"]);
  const [sent, setSent] = useState(false);
  const { busy, error, run } = useAction();
  useEffect(() => {
    const query = { filter: "type='auth'", sort: "name", perPage: 200, fields: "name" };
    api("GET", "/api/collections", { query }).then((page) => setNames(page.items.map((c) => c.name)), () => {});
  }, []);
  const send = (event) => {
    event.preventDefault();
    setSent(false);
    run(async () => {
      await api("POST", "/api/settings/test/email", { body: { email: to, template, collection } });
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
        <Field label="Templates of" error={error} path="collection">
          {(id) => (
            <select id={id} value={collection} onChange={(e) => setCollection(e.currentTarget.value)}>
              {names.map((name) => <option key={name} value={name}>{name}</option>)}
            </select>
          )}
        </Field>
        <button type="submit" class="secondary" disabled={busy}>Send</button>
      </div>
      {sent && <span class="ok" role="status">Test e-mail sent to {to}.</span>}
    </form>
  );
}

const LEVELS = [[-4, "debug"], [0, "info"], [4, "warn"], [8, "error"]];
const levels = (current) => (LEVELS.some(([l]) => l === current) ? LEVELS : [...LEVELS, [current, "custom"]]);

// The S3 inputs of `s3` (file storage) or `backups.s3`; the secret is sent only when typed.
function S3Section({ settings, onSaved, at, intro, enable, filesystem, children }) {
  const pick = (s) => setSecret(s, at, "");
  const section = useSection(settings, pick, onSaved);
  const { draft, setDraft, save, saved, busy, error, form } = section;
  const b = binder(draft, setDraft, error);
  const test = useAction();
  const [tested, setTested] = useState(false);
  const submit = (event) => save(event, b.get(`${at}.secret`) ? draft : setSecret(draft, at, undefined));
  const runTest = () => {
    setTested(false);
    test.run(async () => {
      await api("POST", "/api/settings/test/s3", { body: { filesystem } });
      setTested(true);
    });
  };
  const saved3 = at.split(".").reduce((node, key) => node[key], settings);
  return (
    <form class="stack" onSubmit={submit} ref={form}>
      <ErrorBanner error={error} />
      {children && children(b)}
      <p class="muted">{intro}</p>
      {b.check(enable, `${at}.enabled`)}
      <div class="row">
        {b.text("Endpoint", `${at}.endpoint`)}
        {b.text("Bucket", `${at}.bucket`)}
        {b.text("Region", `${at}.region`)}
      </div>
      <div class="row">
        {b.text("Access key", `${at}.accessKey`, { autocomplete: "off" })}
        {b.text("Secret (leave empty to keep)", `${at}.secret`, { type: "password", autocomplete: "new-password" })}
      </div>
      {b.check("Force path-style addressing", `${at}.forcePathStyle`)}
      <ErrorBanner error={test.error} />
      {tested && <span class="ok" role="status">The S3 connection works.</span>}
      <div class="row end">
        <Saved on={saved} />
        {saved3.enabled && <button type="button" class="secondary" disabled={test.busy} onClick={runTest}>Test the saved S3 connection</button>}
        <button type="submit" disabled={busy}>Save changes</button>
      </div>
    </form>
  );
}

// Only the section of the path's first key, with the secret at `${at}.secret` replaced.
function setSecret(settings, at, value) {
  const [top, ...rest] = at.split(".");
  return { [top]: setIn(settings[top], [...rest, "secret"], value) };
}

function Storage({ settings, onSaved }) {
  return <S3Section settings={settings} onSaved={onSaved} at="s3" filesystem="storage"
    intro="Uploaded files are kept on the local disk unless S3 storage is enabled." enable="Store files in S3-compatible storage" />;
}

function BackupSchedule({ settings, onSaved }) {
  return (
    <S3Section settings={settings} onSaved={onSaved} at="backups.s3" filesystem="backups"
      intro="Backups are kept in the data directory unless S3 storage is enabled for them." enable="Store backups in S3-compatible storage">
      {(b) => (
        <div class="row">
          {b.text("Automatic backups (cron expression; empty: off)", "backups.cron", { class: "mono", placeholder: "0 0 * * *", hint: "e.g. 0 3 * * * runs every night at 03:00 UTC" })}
          {b.number("Automatic backups to keep", "backups.cronMaxKeep", 3, { min: "1" })}
        </div>
      )}
    </S3Section>
  );
}

const AUDIENCES = [["", "everyone"], ["@guest", "guests only"], ["@auth", "signed-in users only"]];

function RateLimits({ settings, onSaved }) {
  const { draft, setDraft, save, saved, busy, error, form } = useSection(settings, (s) => ({ rateLimits: s.rateLimits }), onSaved);
  const b = binder(draft, setDraft, error);
  const rules = draft.rateLimits.rules || [];
  const add = () => b.put("rateLimits.rules", [...rules, { label: "", audience: "", duration: 10, maxRequests: 100 }]);
  return (
    <form class="stack" onSubmit={save} ref={form}>
      <ErrorBanner error={error} />
      {b.check("Enable rate limiting", "rateLimits.enabled")}
      <p class="muted small">
        A label is a path (<code>/api/batch</code>), a path prefix ending in / (<code>/api/</code>), a method and path
        (<code>POST /api/batch</code>) or a collection action (<code>users:auth</code>, <code>*:create</code>; actions:
        list, view, create, update, delete, auth). The most specific matching rule applies.
      </p>
      {rules.map((rule, index) => (
        <fieldset key={index}>
          <legend>Rule {index + 1}</legend>
          <div class="row">
            {b.text("Label", `rateLimits.rules.${index}.label`, { class: "mono" })}
            <Field label="Applies to" error={error} path={`rateLimits.rules.${index}.audience`}>
              {(id) => (
                <select id={id} value={rule.audience} onChange={(e) => b.put(`rateLimits.rules.${index}.audience`, e.currentTarget.value)}>
                  {AUDIENCES.map(([value, name]) => <option key={value} value={value}>{name}</option>)}
                </select>
              )}
            </Field>
            {b.number("Max requests", `rateLimits.rules.${index}.maxRequests`, 0, { min: "1" })}
            {b.number("Per (seconds)", `rateLimits.rules.${index}.duration`, 0, { min: "1" })}
            <button type="button" class="ghost dangertext" aria-label={`Remove rule ${index + 1}`}
              onClick={() => b.put("rateLimits.rules", rules.filter((_, i) => i !== index))}>Remove</button>
          </div>
        </fieldset>
      ))}
      <div><button type="button" class="secondary" onClick={add}>Add rule</button></div>
      {b.list("IPs and subnets never limited (comma separated)", "rateLimits.excludedIPs")}
      <div class="row end"><Saved on={saved} /><button type="submit" disabled={busy}>Save changes</button></div>
    </form>
  );
}
