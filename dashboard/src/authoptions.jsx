// The options of an auth collection in the collection editor: the sign-in methods (password,
// OAuth2, OTP, and Roost's TOTP and passkeys), MFA, Roost's cookie sessions, token lifetimes and
// the e-mail templates. Roost's own option blocks (totp, passkey, cookieSessions) are only sent
// once touched, as the API leaves them out of a collection until they are set.
import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import { api } from "./api.js";
import { binder, CheckField, deepError } from "./forms.jsx";
import { ErrorBanner, Field, TextInput } from "./ui.jsx";

const TOKENS = [
  ["authToken", "Auth token", 604800],
  ["verificationToken", "Verification token", 86400],
  ["passwordResetToken", "Password reset token", 1800],
  ["emailChangeToken", "E-mail change token", 1800],
  ["fileToken", "Protected file token", 180],
];
const TEMPLATES = [
  ["verificationTemplate", "Verification", "{APP_NAME} {APP_URL} {TOKEN}"],
  ["resetPasswordTemplate", "Password reset", "{APP_NAME} {APP_URL} {TOKEN}"],
  ["confirmEmailChangeTemplate", "E-mail change confirmation", "{APP_NAME} {APP_URL} {TOKEN}"],
  ["otp.emailTemplate", "One-time password", "{APP_NAME} {APP_URL} {OTP} {OTP_ID}"],
  ["authAlert.emailTemplate", "New sign-in alert", "{APP_NAME} {APP_URL} {ALERT_INFO}"],
];
// 50 random characters, as long as the secrets the server makes
const newSecret = () => Array.from(crypto.getRandomValues(new Uint8Array(25)), (n) => n.toString(16).padStart(2, "0")).join("");
const MAPPED = [["id", "OAuth2 id"], ["name", "Name"], ["username", "Username"], ["avatarURL", "Avatar URL"]];

// A collapsible group that opens itself when the last answer has an error under one of `keys`.
function Section({ title, error, keys, children }) {
  const box = useRef(null);
  const failed = keys.some((key) => deepError(error, key));
  useLayoutEffect(() => {
    if (failed) box.current.open = true;
  }, [failed, error]);
  return (
    <details class="opts" ref={box}>
      <summary>{title}{failed && <span class="error"> (has errors)</span>}</summary>
      <div class="stack">{children}</div>
    </details>
  );
}

export function AuthOptions({ draft, setDraft, error, words, Rule }) {
  const b = binder(draft, setDraft, error);
  const fieldNames = (draft.fields || []).map((f) => f.name).filter(Boolean);
  return (
    <fieldset>
      <legend>Auth options</legend>
      <Rule name="authRule" label="Auth rule (who may sign in)" value={draft.authRule} error={error} words={words} onChange={(v) => b.put("authRule", v)} />
      <Rule name="manageRule" label="Manage rule (who may manage other records)" value={draft.manageRule} error={error} words={words} onChange={(v) => b.put("manageRule", v)} />
      <Section title="Password" error={error} keys={["passwordAuth"]}>
        {b.check("Password sign-in", "passwordAuth.enabled", true)}
        {b.list("Identity fields (comma separated)", "passwordAuth.identityFields", { hint: "e.g. email, username" })}
      </Section>
      <Section title="OAuth2" error={error} keys={["oauth2"]}>
        <OAuth2 b={b} error={error} fieldNames={fieldNames} />
      </Section>
      <Section title="One-time password (OTP)" error={error} keys={["otp"]}>
        {b.check("One-time password (OTP) sign-in", "otp.enabled")}
        <div class="row">
          {b.number("OTP lifetime (seconds)", "otp.duration", 180)}
          {b.number("OTP length", "otp.length", 8)}
        </div>
      </Section>
      <Section title="Multi-factor authentication (MFA)" error={error} keys={["mfa"]}>
        {b.check("Multi-factor authentication (MFA)", "mfa.enabled")}
        <p class="muted small">MFA asks for two different methods, so enable at least two of password, OAuth2, OTP, TOTP and passkeys.</p>
        <div class="row">
          {b.number("MFA window (seconds)", "mfa.duration", 600)}
          {b.text("MFA rule (empty: everyone)", "mfa.rule", { class: "mono" })}
        </div>
      </Section>
      <Section title="Authenticator app (TOTP)" error={error} keys={["totp"]}>
        {b.check("TOTP sign-in with an identity and a code", "totp.enabled")}
        {b.list("TOTP identity fields (empty: the password ones)", "totp.identityFields")}
        <p class="muted small">Records enrol through /api/collections/{draft.name || "{collection}"}/totp/enroll; TOTP is a second factor for MFA either way.</p>
      </Section>
      <Section title="Passkeys" error={error} keys={["passkey"]}>
        {b.check("Passkey sign-in", "passkey.enabled")}
        <div class="row">
          {b.text("Relying party id (empty: host of the app URL)", "passkey.rpId")}
          {b.text("Relying party name (empty: app name)", "passkey.rpName")}
        </div>
        {b.list("Allowed origins (comma separated; empty: the app URL)", "passkey.origins")}
        {b.list("Passkey identity fields (empty: the password ones)", "passkey.identityFields")}
      </Section>
      <Section title="Cookie sessions" error={error} keys={["cookieSessions"]}>
        {b.check("Allow logins into an HttpOnly cookie session", "cookieSessions.enabled")}
        {b.number("Session lifetime (seconds)", "cookieSessions.duration", 1209600)}
      </Section>
      <Section title="Token lifetimes" error={error} keys={TOKENS.map(([key]) => key)}>
        <div class="cols">
          {TOKENS.map(([key, label, fallback]) => b.number(`${label} lifetime (seconds)`, `${key}.duration`, fallback, { key }))}
        </div>
        <p class="muted small">A new signing secret ends every token of that kind issued so far (for auth tokens: signs everyone out{draft.name === "_superusers" ? ", you included" : ""}).</p>
        <div class="row wrap">
          {TOKENS.map(([key, label]) => (
            <CheckField key={key} label={`New ${label.toLowerCase()} secret`} checked={!!b.get(`${key}.secret`)}
              onChange={(on) => b.put(`${key}.secret`, on ? newSecret() : undefined)} error={error} path={`${key}.secret`} />
          ))}
        </div>
      </Section>
      <Section title="E-mail templates" error={error} keys={TEMPLATES.map(([key]) => key)}>
        {b.check("Send a new sign-in alert", "authAlert.enabled", true)}
        {TEMPLATES.map(([key, label, vars]) => (
          <fieldset key={key}>
            <legend>{label} e-mail</legend>
            {b.text(`${label} subject`, `${key}.subject`)}
            <Field label={`${label} body (HTML)`} error={error} path={`${key}.body`} hint={`Placeholders: ${vars}`}>
              {(id, describedBy) => (
                <textarea id={id} rows="5" class="mono" value={b.get(`${key}.body`) ?? ""} aria-invalid={describedBy ? "true" : undefined}
                  aria-describedby={describedBy} onInput={(e) => b.put(`${key}.body`, e.currentTarget.value)} />
              )}
            </Field>
          </fieldset>
        ))}
      </Section>
    </fieldset>
  );
}

let catalogue = null; // the server's OAuth2 provider catalogue, fetched once a page load

function OAuth2({ b, error, fieldNames }) {
  const [specs, setSpecs] = useState(catalogue || []);
  const [failed, setFailed] = useState(null);
  const [pick, setPick] = useState("");
  useEffect(() => {
    if (catalogue) return;
    api("GET", "/api/collections/meta/oauth2-providers").then((list) => {
      catalogue = list.sort((x, y) => x.displayName.localeCompare(y.displayName));
      setSpecs(catalogue);
    }, setFailed);
  }, []);
  const providers = b.get("oauth2.providers") || [];
  const unused = specs.filter((s) => !providers.some((p) => p.name === s.name));
  const chosen = unused.some((s) => s.name === pick) ? pick : unused[0]?.name || "";
  const add = () => b.put("oauth2.providers", [...providers, { name: chosen, clientId: "", clientSecret: "", displayName: "" }]);
  return (
    <>
      {b.check("OAuth2 sign-in", "oauth2.enabled")}
      <ErrorBanner error={failed} />
      {providers.map((p, index) => (
        <Provider key={p.name || index} b={b} at={`oauth2.providers.${index}`} provider={p} error={error}
          spec={specs.find((s) => s.name === p.name)}
          onRemove={() => b.put("oauth2.providers", providers.filter((_, i) => i !== index))} />
      ))}
      {unused.length > 0 && (
        <div class="row end">
          <Field label="Provider to add">
            {(id) => (
              <select id={id} value={chosen} onChange={(e) => setPick(e.currentTarget.value)}>
                {unused.map((s) => <option key={s.name} value={s.name}>{s.displayName}</option>)}
              </select>
            )}
          </Field>
          <button type="button" class="secondary" onClick={add}>Add provider</button>
        </div>
      )}
      <div class="cols">
        {MAPPED.map(([key, label]) => (
          <Field key={key} label={`Store the provider's ${label} in`} error={error} path={`oauth2.mappedFields.${key}`}>
            {(id) => (
              <select id={id} value={b.get(`oauth2.mappedFields.${key}`) || ""} onChange={(e) => b.put(`oauth2.mappedFields.${key}`, e.currentTarget.value)}>
                <option value="">(nothing)</option>
                {fieldNames.map((name) => <option key={name} value={name}>{name}</option>)}
              </select>
            )}
          </Field>
        ))}
      </div>
    </>
  );
}

const PKCE = { "": null, true: true, false: false };

// A JSON object typed as text: the draft changes only while the text parses.
function JsonObject({ label, value, onChange, error, path, hint }) {
  const [text, setText] = useState(value && Object.keys(value).length ? JSON.stringify(value, null, 2) : "");
  const [bad, setBad] = useState("");
  const update = (next) => {
    setText(next);
    try {
      const parsed = next.trim() ? JSON.parse(next) : {};
      if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw new TypeError();
      setBad("");
      onChange(parsed);
    } catch (exc) {
      setBad("Must be a JSON object.");
    }
  };
  return (
    <Field label={label} error={bad ? { data: { m: { message: bad } } } : error} path={bad ? "m" : path} hint={hint}>
      {(id, describedBy) => (
        <textarea id={id} rows="3" class="mono" value={text} aria-invalid={describedBy ? "true" : undefined}
          aria-describedby={describedBy} onInput={(e) => update(e.currentTarget.value)} />
      )}
    </Field>
  );
}

// One configured provider. The API never sends a client secret back, and keeps the saved one
// when the key is left out, so an empty secret input leaves the key out.
function Provider({ b, at, provider, spec, error, onRemove }) {
  const title = spec ? spec.displayName : provider.name;
  return (
    <fieldset class="provider">
      <legend>{title}</legend>
      {deepError(error, `${at}.name`) && <small class="error" role="alert">{deepError(error, `${at}.name`)}</small>}
      <div class="row">
        {b.text("Client ID", `${at}.clientId`, { autocomplete: "off" })}
        <TextInput label="Client secret" type="password" autocomplete="new-password" value={provider.clientSecret || ""}
          hint={"clientSecret" in provider ? "" : "Saved; type to replace it."} error={error} path={`${at}.clientSecret`}
          onInput={(v) => b.put(`${at}.clientSecret`, v || undefined)} />
      </div>
      <div class="row">
        {b.text("Display name (empty: the provider's own)", `${at}.displayName`)}
        <button type="button" class="ghost dangertext" onClick={onRemove} aria-label={`Remove provider ${title}`}>Remove</button>
      </div>
      <details>
        <summary>Advanced (endpoints, PKCE, provider options)</summary>
        <div class="stack">
          {b.text("Authorization URL", `${at}.authURL`)}
          {b.text("Token URL", `${at}.tokenURL`)}
          {b.text("User info URL", `${at}.userInfoURL`)}
          <Field label="PKCE" error={error} path={`${at}.pkce`}>
            {(id) => (
              <select id={id} value={String(provider.pkce ?? "")} onChange={(e) => b.put(`${at}.pkce`, PKCE[e.currentTarget.value])}>
                <option value="">the provider's default</option><option value="true">on</option><option value="false">off</option>
              </select>
            )}
          </Field>
          <JsonObject label="Provider options (JSON object)" value={provider.extra} onChange={(v) => b.put(`${at}.extra`, v)} error={error} path={`${at}.extra`}
            hint='e.g. {"discoveryURL": "https://id.example.com/.well-known/openid-configuration"} for OpenID Connect' />
        </div>
      </details>
    </fieldset>
  );
}
