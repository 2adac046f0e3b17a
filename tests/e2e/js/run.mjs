// Drives the official JS SDK step by step and prints the outcome of every step as JSON.
//
//   node run.mjs <baseUrl> [steps.json | scenario-name | -]
//
// Input is a JSON array of steps (or {"steps": [...]}). Each step is
//   {"name": "...", "expr": "<JS expression>", "save": "varName"?}
// or {"name": "...", "code": "<async function body, use return>"}.
// In scope: pb (the default client), client(name) (one SDK client per name, each with its own
// auth store), vars (values saved by earlier steps), PocketBase, sleep(ms).
// Output: a JSON array, one entry per step:
//   {"name", "ok": true, "value"}                     on success
//   {"name", "ok": false, "status", "response", ...}  on a ClientResponseError
//   {"name", "ok": false, "status": null, "error"}    on any other exception
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import PocketBase, { ClientResponseError } from "pocketbase";
import { EventSource } from "eventsource";

globalThis.EventSource ??= EventSource;

const here = dirname(fileURLToPath(import.meta.url));
const AsyncFunction = Object.getPrototypeOf(async function () {}).constructor;

function readSteps(source) {
  let text;
  if (!source || source === "-") {
    text = readFileSync(0, "utf8");
  } else if (source.endsWith(".json")) {
    text = readFileSync(source, "utf8");
  } else {
    text = readFileSync(join(here, "scenarios", `${source}.json`), "utf8");
  }
  const parsed = JSON.parse(text);
  return Array.isArray(parsed) ? parsed : parsed.steps;
}

function plain(value) {
  if (value === undefined) return null;
  return JSON.parse(
    JSON.stringify(value, (_key, v) => {
      if (v instanceof Map) return Object.fromEntries(v);
      if (typeof v === "bigint") return v.toString();
      return v;
    }) ?? "null",
  );
}

function describeError(err) {
  if (err instanceof ClientResponseError) {
    return {
      ok: false,
      status: err.status,
      response: plain(err.response),
      message: err.message,
      isAbort: err.isAbort,
    };
  }
  return { ok: false, status: null, error: String(err && err.stack ? err.stack : err) };
}

async function main() {
  const [baseUrl, source] = process.argv.slice(2);
  if (!baseUrl) {
    process.stderr.write("usage: node run.mjs <baseUrl> [steps.json | scenario | -]\n");
    process.exit(2);
  }
  const steps = readSteps(source);
  const clients = new Map();
  const client = (name = "default") => {
    if (!clients.has(name)) {
      const sdk = new PocketBase(baseUrl);
      sdk.autoCancellation(false);
      clients.set(name, sdk);
    }
    return clients.get(name);
  };
  const vars = {};
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const results = [];
  for (const [index, step] of steps.entries()) {
    const name = step.name ?? `step${index}`;
    const body = step.code ?? `return (${step.expr});`;
    let outcome;
    try {
      const fn = new AsyncFunction("pb", "client", "vars", "PocketBase", "sleep", body);
      const value = await fn(client(), client, vars, PocketBase, sleep);
      if (step.save) vars[step.save] = value;
      outcome = { ok: true, value: plain(value) };
    } catch (err) {
      outcome = describeError(err);
      if (step.save) vars[step.save] = null;
    }
    results.push({ name, ...outcome });
  }
  for (const sdk of clients.values()) sdk.realtime?.unsubscribe?.().catch?.(() => {});
  process.stdout.write(JSON.stringify(results));
  process.exit(0);
}

main().catch((err) => {
  process.stderr.write(String(err && err.stack ? err.stack : err));
  process.exit(1);
});
