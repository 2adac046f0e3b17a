// Shared pieces: labelled inputs with the API's field errors beside them, the error banner,
// and the theme toggle.
import { useRef, useState } from "preact/hooks";
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

// A text input that suggests the words (field names, @request.*, @collection.*) completing the
// word at the caret: a combobox whose list is driven by arrow keys, Enter and Escape.
export function SuggestInput({ id, value, onInput, words, describedBy, ...rest }) {
  const [token, setToken] = useState(null); // {start, end, text} of the word at the caret
  const [active, setActive] = useState(0);
  const input = useRef(null);
  const track = (element) => {
    const caret = element.selectionStart ?? element.value.length;
    const start = element.value.slice(0, caret).search(/[\w@.:]*$/);
    const text = element.value.slice(start, caret);
    setToken(text ? { start, end: caret, text } : null);
    setActive(0);
  };
  const matches = token ? words.filter((w) => w.startsWith(token.text) && w !== token.text).slice(0, 8) : [];
  const pick = (word) => {
    const next = value.slice(0, token.start) + word + value.slice(token.end);
    const caret = token.start + word.length;
    // the caret goes after the word at once, not on the next frame, so keys typed meanwhile land there
    input.current.value = next;
    input.current.focus();
    input.current.setSelectionRange(caret, caret);
    onInput(next);
    setToken(null);
  };
  const key = (event) => {
    if (!matches.length) return;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      const step = event.key === "ArrowDown" ? 1 : -1;
      setActive((active + step + matches.length) % matches.length);
    } else if (event.key === "Enter") {
      event.preventDefault();
      pick(matches[active] || matches[0]);
    } else if (event.key === "Escape") {
      event.stopPropagation();
      setToken(null);
    }
  };
  const listId = `${id}-list`;
  return (
    <div class="suggest">
      <input id={id} ref={input} value={value} autocomplete="off" role="combobox" aria-autocomplete="list"
        aria-expanded={matches.length > 0} aria-controls={matches.length ? listId : undefined}
        aria-activedescendant={matches.length ? `${listId}-${active}` : undefined}
        aria-invalid={describedBy ? "true" : undefined} aria-describedby={describedBy}
        onInput={(e) => { onInput(e.currentTarget.value); track(e.currentTarget); }}
        onKeyDown={key} onBlur={() => setTimeout(() => setToken(null), 200)} {...rest} />
      {matches.length > 0 && (
        <ul class="suggestions" id={listId} role="listbox" aria-label="Suggestions">
          {matches.map((w, i) => (
            <li key={w} id={`${listId}-${i}`} role="option" aria-selected={i === active} class={"option mono" + (i === active ? " chosen" : "")}
              onMouseDown={(e) => e.preventDefault()} onClick={() => pick(w)}>{w}</li>
          ))}
        </ul>
      )}
    </div>
  );
}

// The words a filter or rule of `collection` may use: its fields (and one level into relations),
// @request.* and @collection.<name>.<field>.
export function filterWords(collection, collections, { body = false } = {}) {
  const fields = (collection?.fields || []).filter((f) => f.name);
  const words = fields.map((f) => f.name);
  for (const f of fields) {
    const target = f.type === "relation" && collections.find((c) => c.id === f.collectionId);
    if (target) for (const t of target.fields) if (!t.hidden) words.push(`${f.name}.${t.name}`);
  }
  words.push("@request.auth.id", "@request.auth.collectionName", "@request.auth.email", "@request.auth.verified",
    "@request.method", "@request.context", "@request.query.", "@request.headers.", "@now", "@todayStart", "@todayEnd");
  if (body) for (const f of fields) words.push(`@request.body.${f.name}`, `@request.body.${f.name}:isset`, `@request.body.${f.name}:changed`);
  for (const c of collections) for (const f of c.fields || []) if (!f.hidden) words.push(`@collection.${c.name}.${f.name}`);
  return [...new Set(words)];
}
