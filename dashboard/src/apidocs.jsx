// The API as Roost describes it: its OpenAPI document (as a superuser sees it) and a GraphQL console.
import { useEffect, useState } from "preact/hooks";
import { api } from "./api.js";
import { Link } from "./router.jsx";
import { ErrorBanner, Field, TextInput, useAction } from "./ui.jsx";

const METHODS = ["get", "post", "put", "patch", "delete"];

export function ApiDocs({ tab }) {
  return (
    <section>
      <h1>API</h1>
      <nav class="tabs" aria-label="API sections">
        <Link to="/api/openapi" aria-current={tab === "openapi" ? "page" : undefined}>OpenAPI</Link>
        <Link to="/api/graphql" aria-current={tab === "graphql" ? "page" : undefined}>GraphQL</Link>
      </nav>
      {tab === "graphql" ? <GraphQL /> : <OpenApi />}
    </section>
  );
}

function OpenApi() {
  const [doc, setDoc] = useState(null);
  const [search, setSearch] = useState("");
  const { error, run } = useAction();
  useEffect(() => {
    run(async () => setDoc(await api("GET", "/api/openapi.json")));
  }, []);
  if (!doc) return <ErrorBanner error={error} />;
  const words = search.trim().toLowerCase();
  const operations = [];
  for (const [path, item] of Object.entries(doc.paths || {})) {
    for (const method of METHODS) {
      const op = item[method];
      if (!op) continue;
      const text = `${method} ${path} ${op.summary || ""} ${(op.tags || []).join(" ")}`.toLowerCase();
      if (!words || text.includes(words)) operations.push({ path, method, op });
    }
  }
  return (
    <>
      <p class="muted">{doc.info?.title} {doc.info?.version} · OpenAPI {doc.openapi} · {operations.length} operations · the raw document is at <code>/api/openapi.json</code></p>
      <TextInput label="Search operations" type="search" value={search} onInput={setSearch} />
      <ul class="ops">
        {operations.map(({ path, method, op }) => (
          <li key={`${method} ${path}`}>
            <details>
              <summary><span class={`method ${method}`}>{method.toUpperCase()}</span> <code>{path}</code> <span class="muted">{op.summary}</span></summary>
              {op.description && <p>{op.description}</p>}
              {(op.parameters || []).length > 0 && (
                <table class="grid small">
                  <thead><tr><th scope="col">Parameter</th><th scope="col">In</th><th scope="col">Description</th></tr></thead>
                  <tbody>
                    {op.parameters.map((p) => (
                      <tr key={`${p.in}-${p.name}`}><td><code>{p.name}</code>{p.required ? " *" : ""}</td><td>{p.in}</td><td>{p.description || ""}</td></tr>
                    ))}
                  </tbody>
                </table>
              )}
              <p class="small muted">Answers: {Object.keys(op.responses || {}).join(", ")}</p>
            </details>
          </li>
        ))}
      </ul>
    </>
  );
}

const EXAMPLE = "query {\n  __schema {\n    queryType { fields { name } }\n  }\n}";

function GraphQL() {
  const [query, setQuery] = useState(EXAMPLE);
  const [variables, setVariables] = useState("{}");
  const [result, setResult] = useState(null);
  const { busy, error, setError, run } = useAction();
  const submit = (event) => {
    event.preventDefault();
    let vars;
    try {
      vars = variables.trim() ? JSON.parse(variables) : {};
    } catch (exc) {
      setError({ message: "Variables are not valid JSON.", data: { variables: { message: String(exc.message) } } });
      return;
    }
    run(async () => setResult(await api("POST", "/api/graphql", { body: { query, variables: vars } })));
  };
  return (
    <form class="stack" onSubmit={submit}>
      <p class="muted">Queries run as the signed-in superuser against <code>/api/graphql</code>.</p>
      <ErrorBanner error={error} />
      <Field label="Query" error={error} path="query">
        {(id) => <textarea id={id} rows="10" class="mono" value={query} onInput={(e) => setQuery(e.currentTarget.value)} />}
      </Field>
      <Field label="Variables (JSON)" error={error} path="variables">
        {(id) => <textarea id={id} rows="3" class="mono" value={variables} onInput={(e) => setVariables(e.currentTarget.value)} />}
      </Field>
      <div class="row end"><button type="submit" disabled={busy}>Run</button></div>
      {result && <pre class="mono pre" aria-label="Result">{JSON.stringify(result, null, 2)}</pre>}
    </form>
  );
}
