import { useState } from "preact/hooks";
import { call, Problem } from "../api";
import { useSession } from "../app";
import { m } from "../messages";
import { Button, ErrorSummary, Form, TextInput, errorFor, type FieldError } from "../ui";

/// The invitation link: `/open#<token>`. The token never reaches the server's logs: the
/// browser does not send what follows '#', and the page posts it in a body.
export function Open() {
  const s = useSession();
  const token = location.hash.slice(1);
  const [code, setCode] = useState("");
  const [name, setName] = useState("");
  const [password, setPassword] = useState("");
  const [again, setAgain] = useState("");
  const [notify, setNotify] = useState("");
  const [errors, setErrors] = useState<FieldError[]>([]);
  const [busy, setBusy] = useState(false);

  if (!/^[A-Za-z0-9_-]{43}$/.test(token)) {
    return (
      <>
        <h1>{m.openTitle}</h1>
        <p class="lede">{m.openNoToken}</p>
      </>
    );
  }

  const submit = async () => {
    const found: FieldError[] = [];
    if (code.replace(/[\s-]/g, "").length !== 10) found.push({ field: "invitation-code", text: m.invitationCodeInvalid });
    if (!name.trim()) found.push({ field: "display-name", text: m.required.replace("{field}", "your name") });
    if (password.length < 12) found.push({ field: "new-password", text: m.passwordTooShort });
    else if (password !== again) found.push({ field: "confirm-password", text: m.passwordsDiffer });
    setErrors(found);
    if (found.length) return;
    setBusy(true);
    try {
      const body: Record<string, string> = { invitation: token, code: code.trim(), password, display_name: name.trim() };
      if (notify.trim()) body.notification_email = notify.trim();
      await call("POST", "/api/v1/accounts", body);
      // The token is spent: take it out of the address bar and history.
      history.replaceState(null, "", "/#/sign-in");
      s.setNotice(() => m.accountReady);
      s.go("#/sign-in");
    } catch (e) {
      const p = e instanceof Problem ? e : null;
      const field = p?.type === "weak-password" ? "new-password" : p?.type === "invalid-invitation" ? "invitation-code" : "display-name";
      setErrors([{ field, text: p ? p.plain : String(e) }]);
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      <ErrorSummary errors={errors} />
      <h1>{m.openTitle}</h1>
      <p class="lede">{m.openIntro}</p>
      <Form onSubmit={submit}>
        <TextInput id="invitation-code" label={m.invitationCode} hint={m.invitationCodeHint} width="short" value={code} onInput={setCode} error={errorFor(errors, "invitation-code")} />
        <TextInput id="display-name" label={m.displayName} hint={m.displayNameHint} autocomplete="name" value={name} onInput={setName} error={errorFor(errors, "display-name")} />
        <TextInput id="new-password" label={m.newPassword} hint={m.newPasswordHint} type="password" autocomplete="new-password" value={password} onInput={setPassword} error={errorFor(errors, "new-password")} />
        <TextInput id="confirm-password" label={m.confirmPassword} type="password" autocomplete="new-password" value={again} onInput={setAgain} error={errorFor(errors, "confirm-password")} />
        <TextInput id="notification-email" label={m.notificationEmail} hint={m.notificationEmailHint} type="email" autocomplete="email" value={notify} onInput={setNotify} />
        <Button busy={busy}>{m.createAccount}</Button>
      </Form>
    </>
  );
}
