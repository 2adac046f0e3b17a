// First-run superuser creation (with the link `roost serve` prints) and superuser sign-in.
import { useEffect, useState } from "preact/hooks";
import { api, auth, SUPERUSERS, tokenClaims } from "./api.js";
import { navigate } from "./router.jsx";
import { ErrorBanner, TextInput, useAction } from "./ui.jsx";

export function Install({ token }) {
  const [form, setForm] = useState({ email: "", password: "", passwordConfirm: "" });
  const { busy, error, run } = useAction();
  const set = (key) => (value) => setForm({ ...form, [key]: value });
  const submit = (event) => {
    event.preventDefault();
    run(async () => {
      await api("POST", `${SUPERUSERS}/records`, { body: form, token });
      const signed = await api("POST", `${SUPERUSERS}/auth-with-password`, {
        body: { identity: form.email, password: form.password },
        token: "",
      });
      auth.set(signed.token, signed.record);
      // the placeholder behind the first-run link goes, and its token with it
      const placeholder = tokenClaims(token).id;
      if (placeholder) await api("DELETE", `${SUPERUSERS}/records/${placeholder}`);
      navigate("/collections", true);
    });
  };
  return (
    <main class="centered">
      <form class="card narrow" onSubmit={submit} aria-labelledby="install-title">
        <h1 id="install-title">Create the first superuser</h1>
        <p class="muted">This link was printed by <code>roost serve</code> and works once.</p>
        <ErrorBanner error={error} />
        <TextInput label="Email" type="email" autocomplete="username" required value={form.email} onInput={set("email")} error={error} path="email" />
        <TextInput label="Password" type="password" autocomplete="new-password" required value={form.password} onInput={set("password")} error={error} path="password" />
        <TextInput label="Password again" type="password" autocomplete="new-password" required value={form.passwordConfirm} onInput={set("passwordConfirm")} error={error} path="passwordConfirm" />
        <button type="submit" disabled={busy}>Create superuser and sign in</button>
      </form>
    </main>
  );
}

export function Login() {
  const [methods, setMethods] = useState(null);
  const [identity, setIdentity] = useState("");
  const [password, setPassword] = useState("");
  const [otp, setOtp] = useState(null); // {otpId, mfaId}
  const [code, setCode] = useState("");
  const { busy, error, run } = useAction();

  useEffect(() => {
    api("GET", `${SUPERUSERS}/auth-methods`, { token: "" }).then(setMethods, () => setMethods({ password: { enabled: true } }));
  }, []);

  const finish = (signed) => {
    auth.set(signed.token, signed.record);
    navigate("/collections", true);
  };
  const requestOtp = async (mfaId) => {
    const sent = await api("POST", `${SUPERUSERS}/request-otp`, { body: { email: identity }, token: "" });
    setOtp({ otpId: sent.otpId, mfaId });
  };
  const signIn = (event) => {
    event.preventDefault();
    run(async () => {
      try {
        finish(await api("POST", `${SUPERUSERS}/auth-with-password`, { body: { identity, password }, token: "" }));
      } catch (exc) {
        if (exc.status === 401 && exc.body.mfaId) return requestOtp(exc.body.mfaId);
        throw exc;
      }
    });
  };
  const signInOtp = (event) => {
    event.preventDefault();
    run(async () => {
      const body = { otpId: otp.otpId, password: code };
      if (otp.mfaId) body.mfaId = otp.mfaId;
      finish(await api("POST", `${SUPERUSERS}/auth-with-otp`, { body, token: "" }));
    });
  };
  const passwordOn = !methods || methods.password?.enabled !== false;
  const otpOn = methods?.otp?.enabled;

  if (otp) {
    return (
      <main class="centered">
        <form class="card narrow" onSubmit={signInOtp} aria-labelledby="otp-title">
          <h1 id="otp-title">{otp.mfaId ? "Second step: one-time password" : "One-time password"}</h1>
          <p class="muted">A one-time password was e-mailed to {identity}.</p>
          <ErrorBanner error={error} />
          <TextInput label="One-time password" autocomplete="one-time-code" inputmode="numeric" required value={code} onInput={setCode} error={error} path="password" />
          <button type="submit" disabled={busy}>Sign in</button>
          <button type="button" class="ghost" onClick={() => setOtp(null)}>Back</button>
        </form>
      </main>
    );
  }
  return (
    <main class="centered">
      <form class="card narrow" onSubmit={passwordOn ? signIn : (e) => { e.preventDefault(); run(() => requestOtp("")); }} aria-labelledby="login-title">
        <h1 id="login-title">Superuser sign-in</h1>
        <ErrorBanner error={error} />
        <TextInput label="Email" type="email" autocomplete="username" required value={identity} onInput={setIdentity} error={error} path={passwordOn ? "identity" : "email"} />
        {passwordOn && (
          <TextInput label="Password" type="password" autocomplete="current-password" required value={password} onInput={setPassword} error={error} path="password" />
        )}
        <button type="submit" disabled={busy}>{passwordOn ? "Sign in" : "Send a one-time password"}</button>
        {passwordOn && otpOn && (
          <button type="button" class="ghost" disabled={busy || !identity} onClick={() => run(() => requestOtp(""))}>
            Sign in with a one-time password instead
          </button>
        )}
        <p class="muted small">No superuser yet? <code>roost serve</code> prints a first-run link.</p>
      </form>
    </main>
  );
}
