import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api, auth, SUPERUSERS } from "./api.js";
import { ApiDocs } from "./apidocs.jsx";
import { ApiKeys } from "./apikeys.jsx";
import { Install, Login } from "./auth.jsx";
import { Collections } from "./collections.jsx";
import { Confirm } from "./confirm.jsx";
import { Instance } from "./instance.jsx";
import { Logs } from "./logs.jsx";
import { Backups, Crons } from "./maintenance.jsx";
import { Records } from "./records.jsx";
import { Settings, SETTINGS_TABS } from "./settings.jsx";
import { Superusers } from "./superusers.jsx";
import { Link, navigate, useRoute } from "./router.jsx";
import { applyStoredTheme, ThemeToggle } from "./ui.jsx";
import "./style.css";

applyStoredTheme();

const NAV = [
  { to: "/collections", label: "Collections" },
  { to: "/superusers", label: "Superusers" },
  { to: "/keys", label: "API keys" },
  { to: "/logs", label: "Logs" },
  { to: "/instance", label: "Instance" },
  { to: "/settings", label: "Settings" },
  { to: "/backups", label: "Backups" },
  { to: "/crons", label: "Crons" },
  { to: "/api", label: "API" },
];

// the navigation entry a path belongs to (the longest matching prefix)
function current(path) {
  const matches = NAV.filter((item) => path === item.to || path.startsWith(item.to + "/"));
  return matches.sort((a, b) => b.to.length - a.to.length)[0]?.to;
}

function Layout({ path, children }) {
  const [open, setOpen] = useState(false);
  const signOut = () => {
    auth.set("", null);
    navigate("/login", true);
  };
  return (
    <div class="shell">
      <a class="skip" href="#main">Skip to content</a>
      <header class="topbar">
        <button type="button" class="ghost menu" aria-expanded={open} aria-controls="nav" onClick={() => setOpen(!open)}>
          Menu
        </button>
        <Link to="/collections" class="brand">Roost</Link>
        <span class="spacer" />
        <ThemeToggle />
        <span class="muted who">{auth.record?.email}</span>
        <button type="button" class="ghost" onClick={signOut}>Sign out</button>
      </header>
      <nav id="nav" class={"sidenav" + (open ? " open" : "")} aria-label="Main"
        onKeyDown={(e) => e.key === "Escape" && open && (setOpen(false), document.querySelector(".menu").focus())}>
        <ul>
          {NAV.map((item) => (
            <li key={item.to}>
              <Link to={item.to} aria-current={current(path) === item.to ? "page" : undefined} onClick={() => setOpen(false)}>
                {item.label}
              </Link>
            </li>
          ))}
        </ul>
      </nav>
      <main id="main" class="content" tabindex="-1">
        {children}
      </main>
    </div>
  );
}

function App() {
  const route = useRoute();
  const [, rerender] = useState(0);
  const [checked, setChecked] = useState(!auth.token);
  useEffect(() => auth.subscribe(() => rerender((n) => n + 1)), []);
  useEffect(() => {
    if (!auth.token) return;
    // refresh the stored token (and learn who we are) once per load
    api("POST", `${SUPERUSERS}/auth-refresh`)
      .then((signed) => auth.set(signed.token, signed.record))
      .catch(() => auth.set("", null))
      .finally(() => setChecked(true));
  }, []);

  const install = route.hash.match(/^#\/install\/(.+)$/);
  if (install) return <Install token={install[1]} />;
  const confirm = route.hash.match(/^#\/auth\/([a-z-]+)\/(.+)$/);
  if (confirm) return <Confirm action={confirm[1]} token={confirm[2]} />;
  if (!checked) return <p class="centered muted">Loading…</p>;
  if (!auth.token) return route.path === "/login" ? <Login /> : <Redirect to="/login" />;
  const path = route.path;
  if (path === "/" || path === "/login") return <Redirect to="/collections" />;
  let page;
  const records = path.match(/^\/collections\/([^/]+)$/);
  const settings = path.match(/^\/settings(?:\/([a-z]+))?$/);
  if (records) page = <Records name={decodeURIComponent(records[1])} />;
  else if (path === "/collections") page = <Collections />;
  else if (settings && (!settings[1] || SETTINGS_TABS.some(([key]) => key === settings[1]))) page = <Settings tab={settings[1] || "application"} />;
  else if (path === "/superusers") page = <Superusers />;
  else if (path === "/keys") page = <ApiKeys />;
  else if (path === "/logs") page = <Logs />;
  else if (path === "/instance") page = <Instance />;
  else if (path === "/backups") page = <Backups />;
  else if (path === "/crons") page = <Crons />;
  else if (path === "/api" || path === "/api/openapi" || path === "/api/graphql") page = <ApiDocs tab={path === "/api/graphql" ? "graphql" : "openapi"} />;
  else page = <NotFound />;
  return <Layout path={path}>{page}</Layout>;
}

function Redirect({ to }) {
  useEffect(() => navigate(to, true), [to]);
  return null;
}

function NotFound() {
  return (
    <section>
      <h1>Page not found</h1>
      <p><Link to="/collections">Go to the collections</Link></p>
    </section>
  );
}

render(<App />, document.getElementById("app"));
