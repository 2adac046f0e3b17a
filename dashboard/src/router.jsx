// History routing under /_/ (the server answers every /_/ path with index.html).
import { useEffect, useState } from "preact/hooks";

export const BASE = "/_";

function current() {
  const path = location.pathname.startsWith(BASE) ? location.pathname.slice(BASE.length) : "/";
  return { path: path || "/", hash: location.hash };
}

export function navigate(to, replace = false) {
  const url = BASE + to;
  if (replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  dispatchEvent(new PopStateEvent("popstate"));
}

export function useRoute() {
  const [route, setRoute] = useState(current());
  useEffect(() => {
    const update = () => setRoute(current());
    addEventListener("popstate", update);
    addEventListener("hashchange", update);
    update(); // a child may have navigated before this listener existed (child effects run first)
    return () => {
      removeEventListener("popstate", update);
      removeEventListener("hashchange", update);
    };
  }, []);
  return route;
}

export function Link({ to, children, ...rest }) {
  const click = (event) => {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
    event.preventDefault();
    navigate(to);
  };
  return (
    <a href={BASE + to} onClick={click} {...rest}>
      {children}
    </a>
  );
}
