// The public pages the default e-mails link to (`/_/#/auth/<action>/<token>`): confirm a
// verification, choose a new password, confirm a new e-mail address. No sign-in needed.
import { useEffect, useState } from "preact/hooks";
import { api, tokenClaims } from "./api.js";
import { ErrorBanner, TextInput, useAction } from "./ui.jsx";

const TITLES = {
  "confirm-verification": "Confirm your e-mail address",
  "confirm-password-reset": "Choose a new password",
  "confirm-email-change": "Confirm your new e-mail address",
};

export function Confirm({ action, token }) {
  const [password, setPassword] = useState("");
  const [passwordConfirm, setPasswordConfirm] = useState("");
  const [done, setDone] = useState(false);
  const { busy, error, run } = useAction();
  const collection = tokenClaims(token).collectionId || "";
  const send = (body) =>
    run(async () => {
      await api("POST", `/api/collections/${encodeURIComponent(collection)}/${action}`, { body: { token, ...body }, token: "" });
      setDone(true);
    });
  useEffect(() => {
    if (action === "confirm-verification") send({});
  }, []);
  const submit = (event) => {
    event.preventDefault();
    send(action === "confirm-password-reset" ? { password, passwordConfirm } : { password });
  };
  return (
    <main class="centered">
      <form class="card narrow" onSubmit={submit} aria-labelledby="confirm-title">
        <h1 id="confirm-title">{TITLES[action] || "Unknown link"}</h1>
        <ErrorBanner error={error} />
        {done ? (
          <p role="status" class="ok">
            {action === "confirm-verification" ? "Your e-mail address is confirmed." :
              action === "confirm-password-reset" ? "Your password was changed. You can sign in with it now." :
                "Your e-mail address was changed."}
          </p>
        ) : action === "confirm-verification" ? (
          <p class="muted">{busy ? "Confirming…" : ""}</p>
        ) : action in TITLES ? (
          <>
            <TextInput label={action === "confirm-password-reset" ? "New password" : "Your password"} type="password"
              autocomplete={action === "confirm-password-reset" ? "new-password" : "current-password"} required
              value={password} onInput={setPassword} error={error} path="password" />
            {action === "confirm-password-reset" && (
              <TextInput label="New password again" type="password" autocomplete="new-password" required
                value={passwordConfirm} onInput={setPasswordConfirm} error={error} path="passwordConfirm" />
            )}
            <button type="submit" disabled={busy}>{action === "confirm-password-reset" ? "Set the new password" : "Confirm"}</button>
          </>
        ) : (
          <p class="muted">This link is not one Roost sends.</p>
        )}
      </form>
    </main>
  );
}
