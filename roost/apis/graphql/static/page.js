// Roost's GraphiQL page: a superuser's token first, then the editor, every request carrying it.
(function () {
  "use strict";
  var KEY = "roost_graphiql_token";
  var ENDPOINT = "/api/graphql";
  var SUPERUSERS = "/api/collections/_superusers/";
  var $ = function (id) { return document.getElementById(id); };

  function post(url, token, body) {
    var headers = { "Content-Type": "application/json" };
    if (token) headers.Authorization = token;
    return fetch(url, { method: "POST", headers: headers, body: JSON.stringify(body || {}), credentials: "omit" });
  }

  // a fresh token when ``token`` is a superuser's, else null
  function refreshed(token) {
    if (!token) return Promise.resolve(null);
    return post(SUPERUSERS + "auth-refresh", token).then(function (res) {
      return res.ok ? res.json().then(function (data) { return data.token; }) : null;
    }, function () { return null; });
  }

  function showLogin(message) {
    $("graphiql").hidden = true;
    $("signout").hidden = true;
    $("login").hidden = false;
    $("error").textContent = message || "";
  }

  function start(token) {
    localStorage.setItem(KEY, token);
    $("login").hidden = true;
    $("graphiql").hidden = false;
    $("signout").hidden = false;
    // queries and mutations over HTTP, subscriptions over graphql-transport-ws, both with the token
    var fetcher = GraphiQL.createFetcher({
      url: location.origin + ENDPOINT,
      subscriptionUrl: location.origin.replace(/^http/, "ws") + ENDPOINT,
      headers: { Authorization: token },
      wsConnectionParams: { Authorization: token },
    });
    ReactDOM.createRoot($("graphiql")).render(React.createElement(GraphiQL, { fetcher: fetcher }));
  }

  $("login").addEventListener("submit", function (event) {
    event.preventDefault();
    var pasted = $("token").value.trim();
    var login = pasted
      ? refreshed(pasted)
      : post(SUPERUSERS + "auth-with-password", "", { identity: $("email").value, password: $("password").value })
          .then(function (res) { return res.ok ? res.json().then(function (data) { return data.token; }) : null; });
    login.then(function (token) {
      if (token) start(token);
      else showLogin(pasted ? "That is not a valid superuser token." : "Failed to sign in.");
    });
  });
  $("signout").addEventListener("click", function () {
    localStorage.removeItem(KEY);
    location.reload();
  });

  refreshed(localStorage.getItem(KEY)).then(function (token) {
    if (token) start(token);
    else { localStorage.removeItem(KEY); showLogin(""); }
  });
})();
