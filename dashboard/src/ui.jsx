// Shared pieces: labelled inputs with the API's field errors beside them, the error banner,
// and the theme toggle.
import { useState } from "preact/hooks";
import { fieldError } from "./api.js";

let nextId = 0;
export function useId(prefix) {
  const [id] = useState(() => `${prefix}-${++nextId}`);
  return id;
}

// A label, a control and the field's error from the last API answer (`path` into error.data).
export function Field({ label, error, path, hint, children }) {
  const id = useId("f");
  const message = path ? fieldError(error, path) : "";
  const control = children(id, message ? `${id}-err` : undefined);
  return (
    <div class={"field" + (message ? " invalid" : "")}>
      <label for={id}>{label}</label>
      {control}
      {hint && !message && <small class="hint">{hint}</small>}
      {message && (
        <small class="error" id={`${id}-err`} role="alert">
          {message}
        </small>
      )}
    </div>
  );
}

export function TextInput({ label, value, onInput, error, path, type = "text", hint, ...rest }) {
  return (
    <Field label={label} error={error} path={path} hint={hint}>
      {(id, describedBy) => (
        <input
          id={id}
          type={type}
          value={value ?? ""}
          aria-invalid={describedBy ? "true" : undefined}
          aria-describedby={describedBy}
          onInput={(event) => onInput(event.currentTarget.value)}
          {...rest}
        />
      )}
    </Field>
  );
}

export function Check({ label, checked, onChange }) {
  const id = useId("c");
  return (
    <div class="check">
      <input id={id} type="checkbox" checked={!!checked} onChange={(event) => onChange(event.currentTarget.checked)} />
      <label for={id}>{label}</label>
    </div>
  );
}

// The message of a failed request; field errors are shown beside their fields.
export function ErrorBanner({ error }) {
  if (!error) return null;
  const fields = error.data && Object.keys(error.data).length;
  return (
    <div class="banner danger" role="alert">
      <strong>{error.message}</strong>
      {error.status ? <span class="muted"> (status {error.status})</span> : null}
      {fields ? <div class="muted">See the highlighted fields.</div> : null}
    </div>
  );
}

const THEME_KEY = "roost.dashboard.theme";

export function applyStoredTheme() {
  const stored = localStorage.getItem(THEME_KEY);
  if (stored) document.documentElement.dataset.theme = stored;
}

export function ThemeToggle() {
  const preferred = () =>
    document.documentElement.dataset.theme ||
    (matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light");
  const [theme, setTheme] = useState(preferred());
  const toggle = () => {
    const next = theme === "dark" ? "light" : "dark";
    document.documentElement.dataset.theme = next;
    localStorage.setItem(THEME_KEY, next);
    setTheme(next);
  };
  return (
    <button type="button" class="ghost" onClick={toggle} aria-label={`Switch to ${theme === "dark" ? "light" : "dark"} theme`}>
      {theme === "dark" ? "☀ Light" : "☾ Dark"}
    </button>
  );
}

// Runs an async action, keeping its busy flag and last error.
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const run = async (fn) => {
    setBusy(true);
    setError(null);
    try {
      return await fn();
    } catch (exc) {
      setError(exc);
      return undefined;
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, setError, run };
}
