// Usage: node run.mjs <base URL> <owner token> <other token> <owner id>
// Prints one JSON object: what the graphql-ws client and plain fetch saw.
import { createClient } from "graphql-ws";
import WebSocket from "ws";

const [base, ownerToken, otherToken, ownerId] = process.argv.slice(2);
const wsURL = base.replace(/^http/, "ws") + "/api/graphql";

function client(token) {
  return createClient({ url: wsURL, webSocketImpl: WebSocket, connectionParams: { Authorization: token }, retryAttempts: 0, lazy: true });
}

async function once(c, query, variables) {
  const it = c.iterate({ query, variables });
  const { value } = await it.next();
  await it.return?.();
  return value;
}

async function post(token, body) {
  const res = await fetch(base + "/api/graphql", {
    method: "POST", headers: { "Content-Type": "application/json", ...(token ? { Authorization: token } : {}) },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

const out = {};
const owner = client(ownerToken);
const other = client(otherToken);
const SUB = "subscription { posts { action record { title public author { name } } } }";
const ownerEvents = owner.iterate({ query: SUB });
const otherEvents = other.iterate({ query: SUB });
const ownerNext = ownerEvents.next();
const otherNext = otherEvents.next();
// each socket handles its messages in order: once these answer, both subscriptions listen
await once(owner, "{ __typename }");
await once(other, "{ __typename }");
const create = "mutation($d: JSON!) { createPosts(data: $d) { title } }";
out.privateCreate = await once(owner, create, { d: { title: "ws private", public: false, author: ownerId } });
out.publicCreate = await once(owner, create, { d: { title: "ws public", public: true } });
out.ownerFirst = (await ownerNext).value;
out.otherFirst = (await otherNext).value;
await ownerEvents.return();
await otherEvents.return();
out.invalid = await once(owner, "mutation { createPosts(data: {n: 1}) { id } }");
await owner.dispose();
await other.dispose();

out.fetchQuery = await post(otherToken, { query: "query($f: String) { postsList(filter: $f, sort: \"title\") { items { title } } }", variables: { f: "title ~ 'ws'" } });
out.fetchGuest = await post(null, { query: "{ postsList(filter: \"title ~ 'ws'\") { totalItems } }" });
out.fetchBad = await post(null, { query: "{ postsList { nope } }" });
console.log(JSON.stringify(out));
process.exit(0);
