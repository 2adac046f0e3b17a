// Form pieces for nested settings: a comma-separated list input that keeps what is typed,
// a checkbox that shows its field error, and an immutable update of a dotted path.
import { useEffect, useRef, useState } from "preact/hooks";
import { Field, TextInput, useId } from "./ui.jsx";

// The first error message at or under a dotted path of an error's data ("superuserIPs.1").
export function deepError(error, path) {
  let node = error && error.data;
  for (const part of path.split(".")) node = node && typeof node === "object" ? node[part] : undefined;
  while (node && typeof node === "object" && !node.message) node = Object.values(node)[0];
  return node && node.message ? node.message : "";
}

// An error object holding one message, for Field/TextInput, which look errors up by path.
const only = (message) => (message ? { data: { m: { message } } } : null);

// A list typed as text ("a, b" or one a line); the text stays as typed while the list updates.
export function ListInput({ label, value, onChange, error, path, hint, lines, ...rest }) {
  const parse = (t) => t.split(lines ? /[\n,]/ : ",").map((v) => v.trim()).filter(Boolean);
  const [typed, setTyped] = useState("");
  const list = value || [];
  // what was typed, unless the list changed from elsewhere (a row above removed)
  const text = parse(typed).join("\n") === list.join("\n") ? typed : list.join(lines ? "\n" : ", ");
  const update = (next) => {
    setTyped(next);
    onChange(parse(next));
  };
  const message = deepError(error, path);
  if (!lines) return <TextInput label={label} value={text} onInput={update} error={only(message)} path="m" hint={hint} {...rest} />;
  return (
    <Field label={label} error={only(message)} path="m" hint={hint}>
      {(id, describedBy) => (
        <textarea id={id} rows="2" class="mono" value={text} aria-invalid={describedBy ? "true" : undefined}
          aria-describedby={describedBy} onInput={(e) => update(e.currentTarget.value)} {...rest} />
      )}
    </Field>
  );
}

// A checkbox with the API's error for it beside it (e.g. "MFA requires at least 2 auth methods").
export function CheckField({ label, checked, onChange, error, path }) {
  const id = useId("k");
  const message = path ? deepError(error, path) : "";
  return (
    <div class="check">
      <input id={id} type="checkbox" checked={!!checked} aria-invalid={message ? "true" : undefined}
        aria-describedby={message ? `${id}-err` : undefined} onChange={(e) => onChange(e.currentTarget.checked)} />
      <label for={id}>{label}</label>
      {message && <small class="error" id={`${id}-err`} role="alert">{message}</small>}
    </div>
  );
}

// A number input that may be emptied while typing: the draft keeps the last number until a new one parses.
export function NumberInput({ label, value, onChange, ...rest }) {
  const [typed, setTyped] = useState(null);
  const text = typed === "" || (typed !== null && Number(typed) === value) ? typed : String(value ?? "");
  const update = (next) => {
    setTyped(next);
    if (next !== "" && !Number.isNaN(Number(next))) onChange(Number(next));
  };
  return <TextInput label={label} type="number" value={text} onInput={update} {...rest} />;
}

// A ref for a form: when an answer brings field errors, focus moves to the first input they mark.
export function useFocusError(error) {
  const form = useRef(null);
  useEffect(() => {
    const first = error && form.current && form.current.querySelector('[aria-invalid="true"]');
    if (first) first.focus();
  }, [error]);
  return form;
}

export function getIn(obj, path) {
  return path.split(".").reduce((node, key) => (node == null ? undefined : node[key]), obj);
}

export function setIn(obj, path, value) {
  const [head, ...rest] = typeof path === "string" ? path.split(".") : path;
  const copy = Array.isArray(obj) ? [...obj] : { ...(obj || {}) };
  if (rest.length) copy[head] = setIn(copy[head], rest, value);
  else if (value === undefined) delete copy[head];
  else copy[head] = value;
  return copy;
}

export function numberOr(value, fallback) {
  const n = Number(value);
  return value === "" || Number.isNaN(n) ? fallback : n;
}

// Inputs bound to dotted paths of a draft object, with the API's errors under the same paths.
export function binder(draft, setDraft, error) {
  const get = (path) => getIn(draft, path);
  const put = (path, value) => setDraft(setIn(draft, path, value));
  return {
    get, put,
    text: (label, path, extra = {}) => (
      <TextInput label={label} value={get(path) ?? ""} onInput={(v) => put(path, v)} error={error} path={path} {...extra} />
    ),
    number: (label, path, fallback, extra = {}) => (
      <NumberInput label={label} value={get(path) ?? fallback} onChange={(v) => put(path, v)} error={error} path={path} {...extra} />
    ),
    check: (label, path, fallback = false) => (
      <CheckField label={label} checked={get(path) ?? fallback} onChange={(v) => put(path, v)} error={error} path={path} />
    ),
    list: (label, path, extra = {}) => (
      <ListInput label={label} value={get(path)} onChange={(v) => put(path, v)} error={error} path={path} {...extra} />
    ),
  };
}
