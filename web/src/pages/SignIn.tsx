import { useState } from "preact/hooks";
import { call, setTokens, Problem, type Me } from "../api";
import { nextStep, useSession, watchLog } from "../app";
import { identity } from "../crypto";
import { m } from "../messages";
import { passkeysSupported, usePasskey } from "../passkeys";
import { Button, ErrorSummary, Form, Notice, TextInput, errorFor, say, type FieldError } from "../ui";

export function SignIn() {
  const s = useSession();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [code, setCode] = useState("");
  const [needCode, setNeedCode] = useState(false);
  const [errors, setErrors] = useState<FieldError[]>([]);
  const [busy, setBusy] = useState(false);

  const submit = async () => {
    const found: FieldError[] = [];
    if (!email.trim()) found.push({ field: "email", text: m.required.replace("{field}", "your email address") });
    if (!password) found.push({ field: "password", text: m.required.replace("{field}", "your password") });
    if (needCode && !/^\d{6}$/.test(code.trim())) found.push({ field: "totp", text: m.problems["second-factor-required"] });
    setErrors(found);
    if (found.length) return;
    const body: Record<string, unknown> = { email: email.trim(), password };
    if (needCode) body.totp_code = code.trim();
    await attempt(body);
  };

  /// The second step with a passkey instead of a code.
  const withPasskey = async () => {
    setErrors([]);
    let passkey: unknown;
    try {
      passkey = await usePasskey();
    } catch (e) {
      const cancelled = !(e instanceof Problem) || e.type === "passkey-cancelled";
      setErrors([{ field: "totp", text: cancelled ? m.passkeyCancelled : e.plain }]);
      return;
    }
    await attempt({ email: email.trim(), password, passkey });
  };

  const attempt = async (body: Record<string, unknown>) => {
    setBusy(true);
    try {
      setTokens(await call("POST", "/api/v1/auth/login", body));
      const me = await call<Me>("GET", "/api/v1/me");
      if (!(await watchLog(s))) return;
      s.setNotice(null);
      s.setMe(me);
      s.go(nextStep(me, identity() !== null) ?? "#/");
    } catch (e) {
      if (e instanceof Problem && e.type === "second-factor-required") {
        setNeedCode(true);
        setErrors(needCode ? [{ field: "totp", text: e.plain }] : []);
      } else if (e instanceof Problem && e.type === "second-factor-invalid") {
        setErrors([{ field: "totp", text: e.plain }]);
      } else {
        setErrors([{ field: "email", text: e instanceof Problem ? e.plain : String(e) }]);
      }
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      <ErrorSummary errors={errors} />
      {s.notice && <Notice>{say(s.notice)}</Notice>}
      <h1>{m.signInTitle}</h1>
      <Form onSubmit={submit}>
        <TextInput id="email" label={m.email} type="email" autocomplete="username" value={email} onInput={setEmail} error={errorFor(errors, "email")} />
        <TextInput id="password" label={m.password} type="password" autocomplete="current-password" value={password} onInput={setPassword} error={errorFor(errors, "password")} />
        {needCode && (
          <TextInput id="totp" label={m.totpCode} hint={m.totpHint} inputMode="numeric" autocomplete="one-time-code" width="short" value={code} onInput={setCode} error={errorFor(errors, "totp")} />
        )}
        <Button busy={busy}>{m.signIn}</Button>
      </Form>
      {needCode && passkeysSupported() && (
        <p>
          <button type="button" class="link-button" onClick={withPasskey} disabled={busy}>
            {m.signInWithPasskey}
          </button>
        </p>
      )}
    </>
  );
}
