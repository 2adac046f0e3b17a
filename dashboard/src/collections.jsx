// Collections: the list, and the editor for base, auth and view collections
// (fields with their main options, the five rules, indexes; auth options in authoptions.jsx).
import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import { api, fieldError } from "./api.js";
import { AuthOptions } from "./authoptions.jsx";
import { ListInput, numberOr, useFocusError } from "./forms.jsx";
import { Link } from "./router.jsx";
import { Check, ErrorBanner, Field, filterWords, SuggestInput, TextInput, useAction } from "./ui.jsx";

export const FIELD_TYPES = [
  "text", "editor", "number", "bool", "email", "url", "date", "autodate",
  "select", "file", "relation", "json", "geoPoint", "password",
];
const RULES = [
  ["listRule", "List/Search rule"],
  ["viewRule", "View rule"],
  ["createRule", "Create rule"],
  ["updateRule", "Update rule"],
  ["deleteRule", "Delete rule"],
];

export function useCollections() {
  const [list, setList] = useState(null);
  const [error, setError] = useState(null);
  const load = () =>
    api("GET", "/api/collections", { query: { perPage: 500, sort: "name" } }).then(
      (page) => setList(page.items),
      setError,
    );
  useEffect(() => {
    load();
  }, []);
  return { list, error, reload: load };
}

export function Collections() {
  const { list, error, reload } = useCollections();
  const [editing, setEditing] = useState(null);
  const [showSystem, setShowSystem] = useState(false);
  const shown = (list || []).filter((c) => showSystem || !c.system);
  return (
    <section>
      <div class="pagehead">
        <h1>Collections</h1>
        <button type="button" onClick={() => scaffold("base").then(setEditing, () => setEditing(blankCollection()))}>New collection</button>
      </div>
      <ErrorBanner error={error} />
      <Check label="Show system collections" checked={showSystem} onChange={setShowSystem} />
      {list && (
        <table class="grid">
          <thead>
            <tr><th scope="col">Name</th><th scope="col">Type</th><th scope="col">Fields</th><th scope="col"><span class="sr-only">Actions</span></th></tr>
          </thead>
          <tbody>
            {shown.map((c) => (
              <tr key={c.id}>
                <td><Link to={`/collections/${encodeURIComponent(c.name)}`}>{c.name}</Link></td>
                <td><span class={`badge ${c.type}`}>{c.type}</span></td>
                <td>{(c.fields || []).filter((f) => !f.system).length}</td>
                <td class="actions">
                  <button type="button" class="ghost" onClick={() => setEditing(structuredClone(c))} aria-label={`Edit collection ${c.name}`}>Edit</button>
                </td>
              </tr>
            ))}
            {!shown.length && <tr><td colspan="4" class="muted">No collections yet.</td></tr>}
          </tbody>
        </table>
      )}
      {editing && (
        <CollectionEditor
          collection={editing}
          collections={list || []}
          onClose={() => setEditing(null)}
          onSaved={() => {
            setEditing(null);
            reload();
          }}
        />
      )}
    </section>
  );
}

// A new collection starts from the server's own scaffold of its type, system fields included,
// so field positions in an error answer ("fields.1.values") match the editor's rows.
let scaffolds = null;
async function scaffold(type) {
  scaffolds = scaffolds || (await api("GET", "/api/collections/meta/scaffolds"));
  const { id, created, updated, ...rest } = structuredClone(scaffolds[type]);
  return { ...rest, name: "", fields: rest.fields || [] };
}

function blankCollection() {
  return {
    name: "", type: "base", fields: [], indexes: [], viewQuery: "",
    listRule: null, viewRule: null, createRule: null, updateRule: null, deleteRule: null,
  };
}

function blankField(type) {
  const field = { name: "", type, required: false, hidden: false, presentable: false };
  if (type === "select") Object.assign(field, { values: [], maxSelect: 1 });
  if (type === "file") Object.assign(field, { maxSelect: 1, maxSize: 0, mimeTypes: [] });
  if (type === "relation") Object.assign(field, { collectionId: "", maxSelect: 1, cascadeDelete: false });
  if (type === "autodate") Object.assign(field, { onCreate: true, onUpdate: false });
  return field;
}

export function Dialog({ title, onClose, children }) {
  const box = useRef(null);
  useLayoutEffect(() => {
    // focus moves into the dialog and back to where it was when the dialog closes
    const before = document.activeElement;
    box.current.focus();
    return () => before && before.focus && before.focus();
  }, []);
  const key = (event) => {
    if (event.key === "Escape") {
      event.stopPropagation();
      onClose();
    }
  };
  return (
    <div class="overlay" onKeyDown={key} onClick={(event) => event.target === event.currentTarget && onClose()}>
      <div class="dialog" role="dialog" aria-modal="true" aria-label={title} tabindex="-1" ref={box}>
        <div class="dialoghead">
          <h2>{title}</h2>
          <button type="button" class="ghost" onClick={onClose} aria-label="Close">✕</button>
        </div>
        {children}
      </div>
    </div>
  );
}

function CollectionEditor({ collection, collections, onClose, onSaved }) {
  const [draft, setDraft] = useState(collection);
  const [confirming, setConfirming] = useState(false);
  const { busy, error, run } = useAction();
  const form = useFocusError(error);
  const isNew = !collection.id;
  const set = (key) => (value) => setDraft({ ...draft, [key]: value });
  const setField = (index, field) => setDraft({ ...draft, fields: draft.fields.map((f, i) => (i === index ? field : f)) });
  const removeField = (index) => setDraft({ ...draft, fields: draft.fields.filter((_, i) => i !== index) });
  const [newType, setNewType] = useState("text");
  const words = filterWords(draft, collections, { body: true });
  const changeType = (type) =>
    run(async () => {
      const next = await scaffold(type);
      const own = draft.fields.filter((f) => !f.system);
      setDraft({ ...next, name: draft.name, fields: type === "view" ? [] : [...next.fields, ...own] });
    });

  const save = (event) => {
    event.preventDefault();
    run(async () => {
      const body = { ...draft };
      if (body.type === "view") delete body.fields;
      else delete body.viewQuery;
      if (isNew) await api("POST", "/api/collections", { body });
      else await api("PATCH", `/api/collections/${collection.id}`, { body });
      onSaved();
    });
  };
  const remove = () => run(async () => {
    await api("DELETE", `/api/collections/${collection.id}`);
    onSaved();
  });

  return (
    <Dialog title={isNew ? "New collection" : `Edit collection ${collection.name}`} onClose={onClose}>
      <form onSubmit={save} class="stack" ref={form}>
        <ErrorBanner error={error} />
        <div class="row">
          <TextInput label="Name" required value={draft.name} onInput={set("name")} error={error} path="name" disabled={collection.system} />
          <Field label="Type" error={error} path="type">
            {(id) => (
              <select id={id} value={draft.type} disabled={!isNew} onChange={(e) => changeType(e.currentTarget.value)}>
                <option value="base">base</option>
                <option value="auth">auth</option>
                <option value="view">view</option>
              </select>
            )}
          </Field>
        </div>

        {draft.type === "view" ? (
          <Field label="View query (SELECT …)" error={error} path="viewQuery">
            {(id) => <textarea id={id} rows="5" class="mono" value={draft.viewQuery || ""} onInput={(e) => set("viewQuery")(e.currentTarget.value)} />}
          </Field>
        ) : (
          <fieldset>
            <legend>Fields</legend>
            {fieldError(error, "fields") && <small class="error" role="alert">{fieldError(error, "fields")}</small>}
            {draft.fields.map((field, index) => (
              <FieldEditor key={field.id || `new-${index}`} index={index} field={field} error={error}
                number={draft.fields.slice(0, index + 1).filter((f) => !f.system).length}
                collections={collections} words={words} onChange={(f) => setField(index, f)} onRemove={() => removeField(index)} />
            ))}
            <div class="row end">
              <Field label="New field type">
                {(id) => (
                  <select id={id} value={newType} onChange={(e) => setNewType(e.currentTarget.value)}>
                    {FIELD_TYPES.map((t) => <option key={t} value={t}>{t}</option>)}
                  </select>
                )}
              </Field>
              <button type="button" class="secondary" onClick={() => setDraft({ ...draft, fields: [...draft.fields, blankField(newType)] })}>
                Add field
              </button>
            </div>
          </fieldset>
        )}

        <fieldset>
          <legend>API rules</legend>
          <p class="muted small">Leave "Superusers only" ticked to lock a rule; an empty rule lets everyone through.</p>
          {RULES.map(([key, label]) => (
            <RuleInput key={key} name={key} label={label} value={draft[key]} error={error} onChange={set(key)} words={words} />
          ))}
        </fieldset>

        {draft.type !== "view" && <SearchOption draft={draft} setDraft={setDraft} error={error} />}

        {draft.type === "auth" && <AuthOptions draft={draft} setDraft={setDraft} error={error} words={words} Rule={RuleInput} />}

        {draft.type !== "view" && (
          <Field label="Indexes (one CREATE INDEX statement a line)" error={error} path="indexes">
            {(id) => (
              <textarea id={id} rows="3" class="mono" value={(draft.indexes || []).join("\n")}
                onInput={(e) => set("indexes")(e.currentTarget.value.split("\n").filter((line) => line.trim()))} />
            )}
          </Field>
        )}

        <div class="row end">
          {!isNew && !collection.system && (
            confirming ? (
              <button type="button" class="danger" disabled={busy} onClick={remove}>Really delete {collection.name}</button>
            ) : (
              <button type="button" class="ghost dangertext" onClick={() => setConfirming(true)}>Delete collection</button>
            )
          )}
          <span class="spacer" />
          <button type="button" class="ghost" onClick={onClose}>Cancel</button>
          <button type="submit" disabled={busy}>{isNew ? "Create" : "Save changes"}</button>
        </div>
      </form>
    </Dialog>
  );
}

const SEARCHABLE = new Set(["text", "editor", "url", "select"]);

// Roost's `search` option: the text fields of the collection's full-text index. Unticking the
// last one sends {"fields": []}, which removes the index (and the key); a collection that never
// had it does not send the key at all.
function SearchOption({ draft, setDraft, error }) {
  const chosen = draft.search?.fields || [];
  const eligible = (f) => SEARCHABLE.has(f.type) && !f.system && !f.hidden && !f.readRule && !(f.type === "select" && f.maxSelect > 1);
  const candidates = draft.fields.filter((f) => f.name && (chosen.includes(f.name) || eligible(f)));
  const toggle = (name, on) => setDraft({ ...draft, search: { fields: on ? [...chosen, name] : chosen.filter((n) => n !== name) } });
  const whole = fieldError(error, "search");
  return (
    <fieldset>
      <legend>Full-text search</legend>
      <p class="muted small">The fields searched by the records list's <code>search</code> parameter (visible text, editor, URL and
        single select fields without a read rule).</p>
      {candidates.length ? (
        <div class="row wrap">
          {candidates.map((f) => {
            const message = fieldError(error, `search.fields.${chosen.indexOf(f.name)}`);
            return (
              <div key={f.name} class={message ? "invalid" : undefined}>
                <Check label={`Search ${f.name}`} checked={chosen.includes(f.name)} onChange={(on) => toggle(f.name, on)} />
                {message && <small class="error" role="alert">{message}</small>}
              </div>
            );
          })}
        </div>
      ) : <p class="muted small">No text fields to search yet.</p>}
      {whole && <small class="error" role="alert">{whole}</small>}
    </fieldset>
  );
}

function RuleInput({ name, label, value, error, onChange, words = [] }) {
  const locked = value === null || value === undefined;
  return (
    <div class="rule">
      <Field label={label} error={error} path={name}>
        {(id, describedBy) => (
          <SuggestInput id={id} class="mono" words={words} value={locked ? "" : value} disabled={locked}
            describedBy={describedBy} onInput={onChange}
            placeholder={locked ? "superusers only" : "everyone (e.g. @request.auth.id != \"\")"} />
        )}
      </Field>
      <Check label="Superusers only" checked={locked} onChange={(on) => onChange(on ? null : "")} />
    </div>
  );
}

// Roost's field rules: who may read the field and who may send it (an empty rule is dropped from
// the field, which then has no restriction, and its JSON stays as PocketBase clients know it)
function FieldRules({ field, at, error, words, onChange }) {
  const set = (key) => (value) => {
    const next = { ...field };
    if (value.trim()) next[key] = value;
    else delete next[key];
    onChange(next);
  };
  const name = field.name || "this field";
  return (
    <div class="row">
      {[["readRule", `Read rule of ${name}`], ["writeRule", `Write rule of ${name}`]].map(([key, label]) => (
        <Field key={key} label={label} error={error} path={`${at}.${key}`}>
          {(id, describedBy) => (
            <SuggestInput id={id} class="mono" words={words} value={field[key] || ""} describedBy={describedBy}
              onInput={set(key)} placeholder="no restriction" />
          )}
        </Field>
      ))}
    </div>
  );
}

function FieldEditor({ index, number, field, error, collections, words, onChange, onRemove }) {
  const at = `fields.${index}`;
  const set = (key) => (value) => onChange({ ...field, [key]: value });
  if (field.system) {
    return (
      <div class="fieldrow system">
        <code>{field.name}</code> <span class="badge">{field.type}</span> <span class="muted small">system field</span>
      </div>
    );
  }
  return (
    <div class="fieldrow" aria-label={`Field ${number}`}>
      <div class="row">
        <TextInput label={`Field ${number} name`} required value={field.name} onInput={set("name")} error={error} path={`${at}.name`} />
        <span class="badge typebadge">{field.type}</span>
        <button type="button" class="ghost dangertext" onClick={onRemove} aria-label={`Remove field ${field.name || number}`}>Remove</button>
      </div>
      <div class="row wrap">
        <Check label="Required" checked={field.required} onChange={set("required")} />
        <Check label="Hidden" checked={field.hidden} onChange={set("hidden")} />
        <Check label="Presentable" checked={field.presentable} onChange={set("presentable")} />
      </div>
      <FieldRules field={field} at={at} error={error} words={words} onChange={onChange} />
      {field.type === "select" && (
        <div class="row">
          <ListInput label="Values (comma separated)" value={field.values} onChange={set("values")} error={error} path={`${at}.values`} />
          <TextInput label="Max select" type="number" min="1" value={field.maxSelect} onInput={(v) => set("maxSelect")(numberOr(v, 1))} error={error} path={`${at}.maxSelect`} />
        </div>
      )}
      {field.type === "file" && (
        <div class="row">
          <TextInput label="Max files" type="number" min="1" value={field.maxSelect} onInput={(v) => set("maxSelect")(numberOr(v, 1))} error={error} path={`${at}.maxSelect`} />
          <TextInput label="Max size (bytes, 0 = default)" type="number" min="0" value={field.maxSize} onInput={(v) => set("maxSize")(numberOr(v, 0))} error={error} path={`${at}.maxSize`} />
          <ListInput label="MIME types (comma separated)" value={field.mimeTypes} onChange={set("mimeTypes")} error={error} path={`${at}.mimeTypes`} />
        </div>
      )}
      {field.type === "relation" && (
        <div class="row">
          <Field label="Related collection" error={error} path={`${at}.collectionId`}>
            {(id) => (
              <select id={id} value={field.collectionId} onChange={(e) => set("collectionId")(e.currentTarget.value)}>
                <option value="">choose…</option>
                {collections.map((c) => <option key={c.id} value={c.id}>{c.name}</option>)}
              </select>
            )}
          </Field>
          <TextInput label="Max select" type="number" min="1" value={field.maxSelect} onInput={(v) => set("maxSelect")(numberOr(v, 1))} error={error} path={`${at}.maxSelect`} />
          <Check label="Cascade delete" checked={field.cascadeDelete} onChange={set("cascadeDelete")} />
        </div>
      )}
      {(field.type === "text" || field.type === "number") && (
        <div class="row">
          <TextInput label="Min" type="number" value={field.type === "text" ? field.min : field.min ?? ""} onInput={(v) => set("min")(numberOr(v, field.type === "text" ? 0 : null))} error={error} path={`${at}.min`} />
          <TextInput label="Max" type="number" value={field.max ?? ""} onInput={(v) => set("max")(numberOr(v, field.type === "text" ? 0 : null))} error={error} path={`${at}.max`} />
          {field.type === "text" ? (
            <TextInput label="Pattern (regex)" class="mono" value={field.pattern} onInput={set("pattern")} error={error} path={`${at}.pattern`} />
          ) : (
            <Check label="Integers only" checked={field.onlyInt} onChange={set("onlyInt")} />
          )}
        </div>
      )}
      {field.type === "autodate" && (
        <div class="row">
          <Check label="Set on create" checked={field.onCreate} onChange={set("onCreate")} />
          <Check label="Set on update" checked={field.onUpdate} onChange={set("onUpdate")} />
        </div>
      )}
      {(field.type === "email" || field.type === "url") && (
        <div class="row">
          <ListInput label="Only domains (comma separated)" value={field.onlyDomains} onChange={set("onlyDomains")} error={error} path={`${at}.onlyDomains`} />
          <ListInput label="Except domains (comma separated)" value={field.exceptDomains} onChange={set("exceptDomains")} error={error} path={`${at}.exceptDomains`} />
        </div>
      )}
    </div>
  );
}
