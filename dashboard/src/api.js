// A small client of Roost's public API: the superuser token, JSON and multipart requests,
// and errors kept in the API's own {status, message, data} shape.

const TOKEN_KEY = "roost.dashboard.token";
const listeners = new Set();

export const auth = {
  token: localStorage.getItem(TOKEN_KEY) || "",
  record: null,
  set(token, record) {
    this.token = token || "";
    this.record = record || null;
    if (this.token) localStorage.setItem(TOKEN_KEY, this.token);
    else localStorage.removeItem(TOKEN_KEY);
    listeners.forEach((fn) => fn());
  },
  subscribe(fn) {
    listeners.add(fn);
    return () => listeners.delete(fn);
  },
};

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `Request failed (${status}).`);
    this.status = status;
    this.data = (body && body.data) || {};
    this.body = body || {};
  }
}

// `body` may be an object (sent as JSON), FormData, or a Blob/File sent as it is with `contentType`;
// `blob: true` answers the body as a Blob (downloads), `text: true` as text.
export async function api(method, path, { body, query, token, text: asText = false, blob: asBlob = false, contentType } = {}) {
  const url = new URL(path, location.origin);
  for (const [key, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(key, value);
  }
  const headers = { Accept: asText ? "text/plain" : asBlob ? "*/*" : "application/json" };
  const bearer = token === undefined ? auth.token : token;
  if (bearer) headers.Authorization = bearer;
  let payload;
  if (body instanceof FormData) payload = body;
  else if (body instanceof Blob) {
    payload = body;
    headers["Content-Type"] = contentType || body.type || "application/octet-stream";
  }
  else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, { method, headers, body: payload });
  } catch (exc) {
    throw new ApiError(0, { message: "The server could not be reached.", data: {} });
  }
  if (asBlob && response.ok) return response.blob();
  const text = await response.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch (exc) {
    parsed = { message: text };
  }
  if (!response.ok) {
    if (response.status === 401 && bearer && bearer === auth.token && !path.includes("/auth-")) auth.set("", null);
    throw new ApiError(response.status, parsed);
  }
  return asText ? text : parsed;
}

// The field error under a dotted path of an error's data ("fields.0.name"), or "".
export function fieldError(error, path) {
  if (!error || !error.data) return "";
  let node = error.data;
  for (const part of path.split(".")) {
    if (!node || typeof node !== "object") return "";
    node = node[part];
  }
  return node && typeof node === "object" && node.message ? node.message : "";
}

// The claims of a JWT, unverified (for the id of the first-run placeholder superuser).
export function tokenClaims(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(part));
  } catch (exc) {
    return {};
  }
}

export const SUPERUSERS = "/api/collections/_superusers";
