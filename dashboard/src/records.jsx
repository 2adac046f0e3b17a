// The records grid of one collection (filter, sort, paging, column choice) and the record form
// with an input per field type, file upload and a relation picker.
import { useEffect, useState } from "preact/hooks";
import { api, ApiError } from "./api.js";
import { Dialog } from "./collections.jsx";
import { DataTransfer } from "./dataio.jsx";
import { Link } from "./router.jsx";
import { Check, ErrorBanner, Field, filterWords, SuggestInput, TextInput, useAction } from "./ui.jsx";

const PER_PAGE = 30;
const HIDDEN_IN_FORM = new Set(["id", "tokenKey"]);

function columnsKey(name) {
  return `roost.dashboard.columns.${name}`;
}

export function Records({ name }) {
  const [collection, setCollection] = useState(null);
  const [collections, setCollections] = useState([]);
  const [page, setPage] = useState(null);
  const [query, setQuery] = useState({ page: 1, sort: "", filter: "", search: "" });
  const [filterText, setFilterText] = useState("");
  const [searchText, setSearchText] = useState("");
  const [editing, setEditing] = useState(null);
  const [columns, setColumns] = useState(null);
  const [choosing, setChoosing] = useState(false);
  const [picked, setPicked] = useState([]);
  const [confirmBulk, setConfirmBulk] = useState(false);
  const { busy, error, setError, run } = useAction();

  useEffect(() => {
    setCollection(null);
    // every collection once: the filter's suggestions and the labels of related records need them
    api("GET", "/api/collections", { query: { perPage: 500, sort: "name" } }).then(({ items }) => {
      const c = items.find((item) => item.name === name || item.id === name);
      if (!c) throw new ApiError(404, { message: `There is no collection "${name}".` });
      setCollections(items);
      setCollection(c);
      const stored = JSON.parse(localStorage.getItem(columnsKey(c.name)) || "null");
      setColumns(stored || c.fields.filter((f) => !f.hidden && f.type !== "password").map((f) => f.name).slice(0, 6));
      setQuery({ page: 1, sort: c.fields.some((f) => f.name === "created") ? "-created" : "", filter: "", search: "" });
      setFilterText("");
      setSearchText("");
    }, setError);
  }, [name]);

  const load = () =>
    run(async () => {
      setPicked([]);
      setConfirmBulk(false);
      setPage(await api("GET", `/api/collections/${encodeURIComponent(name)}/records`, {
        query: { page: query.page, perPage: PER_PAGE, sort: query.sort, filter: query.filter, search: query.search, expand: expandOf(collection, columns) },
      }));
    });
  useEffect(() => {
    if (collection) load();
  }, [collection, query, columns]);

  const toggleColumn = (field, on) => {
    const next = on ? [...columns, field] : columns.filter((c) => c !== field);
    setColumns(next);
    localStorage.setItem(columnsKey(collection.name), JSON.stringify(next));
  };
  const sortBy = (field) => {
    const sort = query.sort === field ? `-${field}` : field;
    setQuery({ ...query, sort, page: 1 });
  };
  const sortState = (field) =>
    query.sort === field ? "ascending" : query.sort === `-${field}` ? "descending" : "none";

  const deletePicked = async () => {
    const done = await run(async () => {
      for (const id of picked) await api("DELETE", `/api/collections/${collection.id}/records/${id}`);
      return true;
    });
    if (done) load();
  };
  const pick = (id, on) => setPicked(on ? [...picked, id] : picked.filter((p) => p !== id));
  const editable = collection && collection.type !== "view";

  if (!collection) return <section><ErrorBanner error={error} />{!error && <p class="muted">Loading…</p>}</section>;
  const shown = collection.fields.filter((f) => columns.includes(f.name));
  const totalPages = page ? Math.max(1, page.totalPages) : 1;
  return (
    <section>
      <div class="pagehead">
        <h1><Link to="/collections" class="muted">Collections</Link> / {collection.name}</h1>
        {collection.type !== "view" && (
          <button type="button" onClick={() => setEditing({})}>New record</button>
        )}
      </div>
      <form class="row end" role="search" onSubmit={(e) => {
        e.preventDefault();
        const search = searchText.trim();
        // a new search is shown best match first: a sort would replace the ranking
        setQuery({ ...query, filter: filterText, search, page: 1, sort: search && search !== query.search ? "" : query.sort });
      }}>
        {collection.search?.fields?.length > 0 && (
          <TextInput label="Search" type="search" value={searchText} onInput={setSearchText} error={error} path="search"
            placeholder={`words in ${collection.search.fields.join(", ")}`} />
        )}
        <Field label="Filter">
          {(id) => (
            <SuggestInput id={id} class="mono" words={filterWords(collection, collections)} value={filterText} onInput={setFilterText}
              placeholder={`e.g. ${shown[1]?.name || "id"} != ""`} />
          )}
        </Field>
        <button type="submit" class="secondary">Apply</button>
        <button type="button" class="ghost" aria-expanded={choosing} onClick={() => setChoosing(!choosing)}>Columns</button>
      </form>
      <DataTransfer collection={collection} query={query} onImported={load} />
      {choosing && (
        <fieldset class="row wrap">
          <legend>Columns</legend>
          {collection.fields.map((f) => (
            <Check key={f.name} label={f.name} checked={columns.includes(f.name)} onChange={(on) => toggleColumn(f.name, on)} />
          ))}
        </fieldset>
      )}
      <ErrorBanner error={error} />
      {picked.length > 0 && (
        <div class="row bulk" role="region" aria-label="Selected records">
          <span>{picked.length} selected</span>
          <button type="button" class="ghost" onClick={() => setPicked([])}>Clear selection</button>
          {confirmBulk ? (
            <button type="button" class="danger" disabled={busy} onClick={deletePicked}>Really delete {picked.length} records</button>
          ) : (
            <button type="button" class="ghost dangertext" onClick={() => setConfirmBulk(true)}>Delete selected</button>
          )}
        </div>
      )}
      <div class="tablewrap">
        <table class="grid">
          <thead>
            <tr>
              {editable && (
                <th scope="col" class="pick">
                  <input type="checkbox" aria-label="Select all records on this page"
                    checked={!!page?.items.length && picked.length === page.items.length}
                    onChange={(e) => setPicked(e.currentTarget.checked ? page.items.map((r) => r.id) : [])} />
                </th>
              )}
              {shown.map((f) => (
                <th key={f.name} scope="col" aria-sort={sortState(f.name)}>
                  <button type="button" class="sort" onClick={() => sortBy(f.name)}>
                    {f.name} {sortState(f.name) === "ascending" ? "▲" : sortState(f.name) === "descending" ? "▼" : ""}
                  </button>
                </th>
              ))}
              <th scope="col"><span class="sr-only">Actions</span></th>
            </tr>
          </thead>
          <tbody>
            {page?.items.map((record) => (
              <tr key={record.id}>
                {editable && (
                  <td class="pick">
                    <input type="checkbox" aria-label={`Select record ${record.id}`} checked={picked.includes(record.id)}
                      onChange={(e) => pick(record.id, e.currentTarget.checked)} />
                  </td>
                )}
                {shown.map((f) => <td key={f.name}><Cell collection={collection} collections={collections} field={f} record={record} /></td>)}
                <td class="actions">
                  {collection.type !== "view" && (
                    <button type="button" class="ghost" onClick={() => setEditing(record)} aria-label={`Edit record ${record.id}`}>Edit</button>
                  )}
                </td>
              </tr>
            ))}
            {page && !page.items.length && <tr><td colspan={shown.length + 2} class="muted">No records found.</td></tr>}
          </tbody>
        </table>
      </div>
      {page && (
        <nav class="row pager" aria-label="Pages">
          <button type="button" class="ghost" disabled={query.page <= 1} onClick={() => setQuery({ ...query, page: query.page - 1 })}>Previous</button>
          <span>Page {page.page} of {totalPages} · {page.totalItems} records</span>
          <button type="button" class="ghost" disabled={query.page >= totalPages} onClick={() => setQuery({ ...query, page: query.page + 1 })}>Next</button>
        </nav>
      )}
      {editing && (
        <RecordForm collection={collection} collections={collections} record={editing} onClose={() => setEditing(null)}
          onSaved={() => { setEditing(null); load(); }} />
      )}
    </section>
  );
}

// the relation columns on show, expanded so a cell names the related record instead of its id
function expandOf(collection, columns) {
  return collection.fields.filter((f) => f.type === "relation" && columns.includes(f.name)).map((f) => f.name).join(",");
}

// a short human label of a record: its collection's presentable fields, else a usual name field
export function recordLabel(record, target) {
  const presentable = (target?.fields || []).filter((f) => f.presentable && record[f.name] !== undefined && record[f.name] !== "");
  if (presentable.length) return presentable.map((f) => String(record[f.name])).join(" · ");
  for (const key of ["name", "title", "email", "username", "label"]) {
    if (typeof record[key] === "string" && record[key]) return record[key];
  }
  const text = (target?.fields || []).find((f) => f.type === "text" && !f.hidden && f.name !== "id" && record[f.name]);
  return text ? String(record[text.name]) : record.id;
}

const IMAGE = /\.(png|jpe?g|gif|webp)$/i;

function fileUrl(collection, record, name) {
  return `/api/files/${collection.id}/${record.id}/${encodeURIComponent(name)}`;
}

function Cell({ collection, collections, field, record }) {
  const value = record[field.name];
  if (value === undefined || value === null || value === "" || (Array.isArray(value) && !value.length)) {
    return <span class="muted">—</span>;
  }
  if (field.type === "file") {
    const names = Array.isArray(value) ? value : [value];
    return names.map((n) => (
      <a key={n} class="chip" href={fileUrl(collection, record, n)} target="_blank" rel="noopener">
        {IMAGE.test(n) && !field.protected ? <img class="thumb" src={`${fileUrl(collection, record, n)}?thumb=100x100`} alt={n} /> : n}
      </a>
    ));
  }
  if (field.type === "relation") {
    const expanded = record.expand?.[field.name];
    const related = expanded ? (Array.isArray(expanded) ? expanded : [expanded]) : [];
    const target = collections.find((c) => c.id === field.collectionId);
    if (related.length) return related.map((r) => <span key={r.id} class="chip" title={r.id}>{recordLabel(r, target)}</span>);
  }
  if (field.type === "bool") return value ? "true" : "false";
  if (Array.isArray(value)) return value.map((v) => <span key={v} class="chip">{String(v)}</span>);
  if (typeof value === "object") return <code>{JSON.stringify(value).slice(0, 80)}</code>;
  const text = String(value);
  return text.length > 80 ? text.slice(0, 80) + "…" : text;
}

function initialValues(collection, record) {
  const values = {};
  for (const field of collection.fields) {
    if (field.type === "file" || field.type === "password" || HIDDEN_IN_FORM.has(field.name)) continue;
    let value = record[field.name];
    if (field.type === "json") value = value === undefined || value === null ? "" : JSON.stringify(value, null, 2);
    values[field.name] = value;
  }
  return values;
}

// JSON typed into the form, or a field error shaped like the API's, shown beside the field
function parseJson(name, text) {
  try {
    return JSON.parse(text);
  } catch (exc) {
    throw new ApiError(0, { message: "Fix the highlighted fields.", data: { [name]: { code: "invalid_json", message: `Not valid JSON: ${exc.message}` } } });
  }
}

function RecordForm({ collection, collections, record, onClose, onSaved }) {
  const isNew = !record.id;
  const [values, setValues] = useState(() => initialValues(collection, record));
  const [uploads, setUploads] = useState({}); // field -> File[]
  const [removed, setRemoved] = useState({}); // field -> names
  const [confirming, setConfirming] = useState(false);
  const { busy, error, run } = useAction();
  const set = (name) => (value) => setValues({ ...values, [name]: value });

  const save = (event) => {
    event.preventDefault();
    run(async () => {
      const payload = {};
      for (const field of collection.fields) {
        if (field.type === "autodate" || field.type === "file" || HIDDEN_IN_FORM.has(field.name)) continue;
        if (!(field.name in values)) continue;
        let value = values[field.name];
        if (field.type === "password" && !value) continue;
        if (field.type === "json") value = value === "" ? null : parseJson(field.name, value);
        payload[field.name] = value;
      }
      if (collection.type === "auth" && values.password) payload.passwordConfirm = values.passwordConfirm;
      const form = new FormData();
      form.append("@jsonPayload", JSON.stringify(payload));
      for (const field of collection.fields.filter((f) => f.type === "file")) {
        for (const name of removed[field.name] || []) form.append(`${field.name}-`, name);
        const key = field.maxSelect > 1 && !isNew ? `${field.name}+` : field.name;
        for (const file of uploads[field.name] || []) form.append(key, file);
      }
      const base = `/api/collections/${collection.id}/records`;
      if (isNew) await api("POST", base, { body: form });
      else await api("PATCH", `${base}/${record.id}`, { body: form });
      onSaved();
    });
  };
  const remove = () => run(async () => {
    await api("DELETE", `/api/collections/${collection.id}/records/${record.id}`);
    onSaved();
  });

  return (
    <Dialog title={isNew ? `New ${collection.name} record` : `Edit ${collection.name} record ${record.id}`} onClose={onClose}>
      <form class="stack" onSubmit={save}>
        <ErrorBanner error={error} />
        {!isNew && <p class="muted small">id <code>{record.id}</code></p>}
        {collection.fields.filter((f) => !HIDDEN_IN_FORM.has(f.name)).map((field) => (
          <FieldInput key={field.name} collection={collection} collections={collections} field={field} record={record}
            value={values[field.name]} onChange={set(field.name)} error={error} values={values} setValues={setValues}
            uploads={uploads[field.name] || []} setUploads={(files) => setUploads({ ...uploads, [field.name]: files })}
            removed={removed[field.name] || []} setRemoved={(names) => setRemoved({ ...removed, [field.name]: names })} />
        ))}
        <div class="row end">
          {!isNew && (confirming ? (
            <button type="button" class="danger" disabled={busy} onClick={remove}>Really delete this record</button>
          ) : (
            <button type="button" class="ghost dangertext" onClick={() => setConfirming(true)}>Delete record</button>
          ))}
          <span class="spacer" />
          <button type="button" class="ghost" onClick={onClose}>Cancel</button>
          <button type="submit" disabled={busy}>{isNew ? "Create" : "Save changes"}</button>
        </div>
      </form>
    </Dialog>
  );
}

function FieldInput(props) {
  const { collection, collections, field, record, value, onChange, error, values, setValues } = props;
  const label = field.name + (field.required ? " *" : "");
  const path = field.name;
  switch (field.type) {
    case "autodate":
      return <p class="small"><span class="muted">{field.name}:</span> {record[field.name] || "set on save"}</p>;
    case "bool":
      return <Check label={field.name} checked={value} onChange={onChange} />;
    case "number":
      return <TextInput label={label} type="number" step="any" value={value ?? ""} error={error} path={path}
        onInput={(v) => onChange(v === "" ? null : Number(v))} />;
    case "editor":
    case "json":
      return (
        <Field label={label} error={error} path={path} hint={field.type === "json" ? "JSON" : "HTML"}>
          {(id, describedBy) => <textarea id={id} rows="4" class="mono" value={value ?? ""} aria-invalid={describedBy ? "true" : undefined}
            aria-describedby={describedBy} onInput={(e) => onChange(e.currentTarget.value)} />}
        </Field>
      );
    case "select":
      return (
        <Field label={label} error={error} path={path}>
          {(id, describedBy) => field.maxSelect > 1 ? (
            <select id={id} multiple value={value || []} aria-describedby={describedBy}
              onChange={(e) => onChange([...e.currentTarget.selectedOptions].map((o) => o.value))}>
              {field.values.map((v) => <option key={v} value={v}>{v}</option>)}
            </select>
          ) : (
            <select id={id} value={value || ""} aria-describedby={describedBy} onChange={(e) => onChange(e.currentTarget.value)}>
              <option value="">—</option>
              {field.values.map((v) => <option key={v} value={v}>{v}</option>)}
            </select>
          )}
        </Field>
      );
    case "file":
      return <FileInput {...props} label={label} />;
    case "relation":
      return <RelationPicker field={field} label={label} value={value} onChange={onChange} error={error} record={record}
        target={collections.find((c) => c.id === field.collectionId)} />;
    case "password":
      return (
        <div class="row">
          <TextInput label={isNewLabel(record, label)} type="password" autocomplete="new-password" value={value || ""} error={error} path={path} onInput={onChange} />
          <TextInput label="Password again" type="password" autocomplete="new-password" value={values.passwordConfirm || ""} error={error} path="passwordConfirm"
            onInput={(v) => setValues({ ...values, passwordConfirm: v })} />
        </div>
      );
    case "date":
      // the browser's date-time picker, read as UTC, which is how the API stores and answers dates
      return <TextInput label={label} type="datetime-local" step="1" hint="UTC" value={toPicker(value)} error={error} path={path} onInput={(v) => onChange(fromPicker(v))} />;
    case "email":
      return <TextInput label={label} type="email" value={value} error={error} path={path} onInput={onChange} />;
    case "url":
      return <TextInput label={label} type="url" value={value} error={error} path={path} onInput={onChange} />;
    case "geoPoint":
      return (
        <div class="row">
          <TextInput label={`${field.name} longitude`} type="number" step="any" value={value?.lon ?? 0} onInput={(v) => onChange({ ...(value || {}), lon: Number(v) })} />
          <TextInput label={`${field.name} latitude`} type="number" step="any" value={value?.lat ?? 0} error={error} path={path} onInput={(v) => onChange({ ...(value || {}), lat: Number(v) })} />
        </div>
      );
    default:
      return <TextInput label={label} value={value} error={error} path={path} onInput={onChange} />;
  }
  function isNewLabel(rec, text) {
    return rec.id ? `${field.name} (leave empty to keep)` : text;
  }
}

// "2026-01-31 12:00:00.000Z" <-> "2026-01-31T12:00:00" (a datetime-local value has no zone)
function toPicker(value) {
  return value ? value.slice(0, 19).replace(" ", "T") : "";
}
function fromPicker(value) {
  if (!value) return "";
  const [day, time] = value.split("T");
  return `${day} ${(time + ":00").slice(0, 8)}.000Z`;
}

function FileInput({ collection, field, record, label, error, uploads, setUploads, removed, setRemoved }) {
  const current = record[field.name] ? (Array.isArray(record[field.name]) ? record[field.name] : [record[field.name]]) : [];
  return (
    <Field label={label} error={error} path={field.name}>
      {(id, describedBy) => (
        <div class="files">
          {current.map((name) => (
            <div key={name} class={"row wrap" + (removed.includes(name) ? " struck" : "")}>
              <a href={fileUrl(collection, record, name)} target="_blank" rel="noopener">
                {IMAGE.test(name) && !field.protected && <img class="thumb" src={`${fileUrl(collection, record, name)}?thumb=100x100`} alt="" />} {name}
              </a>
              <button type="button" class="ghost small" aria-pressed={removed.includes(name)}
                onClick={() => setRemoved(removed.includes(name) ? removed.filter((n) => n !== name) : [...removed, name])}>
                {removed.includes(name) ? "Keep" : "Remove"}
              </button>
            </div>
          ))}
          <input id={id} type="file" multiple={field.maxSelect > 1} aria-describedby={describedBy}
            onChange={(e) => setUploads([...e.currentTarget.files])} />
          {uploads.length > 0 && <small class="hint">{uploads.length} file(s) will be uploaded on save.</small>}
        </div>
      )}
    </Field>
  );
}

function RelationPicker({ field, label, value, onChange, error, record, target }) {
  const multiple = field.maxSelect > 1;
  const selected = value ? (Array.isArray(value) ? value : [value]) : [];
  const [search, setSearch] = useState("");
  const [options, setOptions] = useState([]);
  // labels of the related records seen so far: the grid's expanded ones, then each search's
  const [known, setKnown] = useState(() => {
    const expanded = record.expand?.[field.name];
    return Object.fromEntries((Array.isArray(expanded) ? expanded : expanded ? [expanded] : []).map((r) => [r.id, recordLabel(r, target)]));
  });
  useEffect(() => {
    if (!target) return;
    const texts = target.fields.filter((f) => !f.hidden && ["text", "email", "url"].includes(f.type)).map((f) => f.name);
    const words = search.trim().replace(/["\\]/g, "");
    const filter = words ? ["id", ...texts].map((n) => `${n} ~ "${words}"`).join(" || ") : "";
    api("GET", `/api/collections/${target.id}/records`, { query: { perPage: 10, filter, skipTotal: 1 } }).then((page) => {
      setOptions(page.items);
      setKnown((before) => ({ ...before, ...Object.fromEntries(page.items.map((r) => [r.id, recordLabel(r, target)])) }));
    }, () => setOptions([]));
  }, [target, search]);
  const display = (r) => (known[r.id] && known[r.id] !== r.id ? `${known[r.id]} (${r.id})` : r.id);
  const toggle = (id) => {
    if (multiple) onChange(selected.includes(id) ? selected.filter((s) => s !== id) : [...selected, id]);
    else onChange(selected.includes(id) ? "" : id);
  };
  return (
    <Field label={label} error={error} path={field.name}>
      {(id, describedBy) => (
        <div class="picker">
          <div class="row wrap" aria-live="polite">
            {selected.length ? selected.map((s) => (
              <span key={s} class="chip" title={s}>{known[s] || s} <button type="button" class="ghost small" aria-label={`Unselect ${s}`} onClick={() => toggle(s)}>✕</button></span>
            )) : <span class="muted small">nothing selected</span>}
          </div>
          <input id={id} type="search" placeholder={`Search ${target?.name || ""}…`} value={search} aria-describedby={describedBy}
            onInput={(e) => setSearch(e.currentTarget.value)} />
          <ul class="options" aria-label={`${field.name} choices`}>
            {options.map((record) => (
              <li key={record.id}>
                <button type="button" class={"option" + (selected.includes(record.id) ? " chosen" : "")} aria-pressed={selected.includes(record.id)} onClick={() => toggle(record.id)}>
                  {display(record)}
                </button>
              </li>
            ))}
          </ul>
        </div>
      )}
    </Field>
  );
}
