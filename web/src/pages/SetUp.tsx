import qrcode from "qrcode-generator";
import { useEffect, useMemo, useState } from "preact/hooks";
import { call, Problem, type Me } from "../api";
import { nextStep, useSession } from "../app";
import { adopt, fingerprint, identity, identityFile, newIdentity, wrap } from "../crypto";
import { m } from "../messages";
import { keepWrapped } from "../store";
import { createPasskey, passkeysSupported } from "../passkeys";
import { asData, Button, ErrorSummary, Form, TextInput, errorFor, type FieldError } from "../ui";

/// The QR code of an otpauth URI, drawn as one SVG path: no image from elsewhere, no HTML
/// from a string.
function Qr({ text }: { text: string }) {
  const { size, d } = useMemo(() => {
    const q = qrcode(0, "M");
    q.addData(text);
    q.make();
    const n = q.getModuleCount();
    let path = "";
    for (let r = 0; r < n; r++) for (let c = 0; c < n; c++) if (q.isDark(r, c)) path += `M${c + 4} ${r + 4}h1v1h-1z`;
    return { size: n + 8, d: path };
  }, [text]);
  return (
    <svg class="qr" viewBox={`0 0 ${size} ${size}`} role="img" aria-label={m.totpQrAlt}>
      <rect width={size} height={size} fill="#fff" />
      <path d={d} fill="#000" />
    </svg>
  );
}

async function continueFrom(s: ReturnType<typeof useSession>) {
  const me = await call<Me>("GET", "/api/v1/me");
  s.setMe(me);
  s.go(nextStep(me, identity() !== null) ?? "#/");
}

export function SetUpFactor() {
  const s = useSession();
  const [enrolment, setEnrolment] = useState<{ secret: string; otpauth_uri: string } | null>(null);
  const [code, setCode] = useState("");
  const [errors, setErrors] = useState<FieldError[]>([]);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    call<{ secret: string; otpauth_uri: string }>("POST", "/api/v1/me/totp")
      .then(setEnrolment)
      .catch((e) => setErrors([{ field: "totp", text: e instanceof Problem ? e.plain : String(e) }]));
  }, []);

  const submit = async () => {
    if (!/^\d{6}$/.test(code.trim())) {
      setErrors([{ field: "totp", text: m.problems["second-factor-required"] }]);
      return;
    }
    setBusy(true);
    try {
      await call("POST", "/api/v1/me/totp/confirm", { code: code.trim() });
      await continueFrom(s);
    } catch (e) {
      setErrors([{ field: "totp", text: e instanceof Problem ? e.plain : String(e) }]);
    } finally {
      setBusy(false);
    }
  };

  /// The first factor may be a passkey instead: the session alone vouches for it.
  const withPasskey = async () => {
    setErrors([]);
    setBusy(true);
    try {
      await call("POST", "/api/v1/me/passkeys", { credential: await createPasskey() });
      await continueFrom(s);
    } catch (e) {
      setErrors([{ field: "totp", text: e instanceof Problem ? e.plain : String(e) }]);
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      <ErrorSummary errors={errors} />
      <h1>{m.totpTitle}</h1>
      <p class="lede">{m.totpIntro}</p>
      {enrolment && (
        <>
          <Qr text={enrolment.otpauth_uri} />
          <h2 class="small-heading">{m.totpKey}</h2>
          <p class="secret" {...asData} id="totp-secret">
            {enrolment.secret.match(/.{1,4}/g)?.join(" ")}
          </p>
        </>
      )}
      <Form onSubmit={submit}>
        <TextInput id="totp" label={m.totpConfirm} hint={m.totpHint} inputMode="numeric" autocomplete="one-time-code" width="short" value={code} onInput={setCode} error={errorFor(errors, "totp")} />
        <Button busy={busy}>{m.continue}</Button>
      </Form>
      {passkeysSupported() && (
        <section aria-labelledby="passkey-instead-heading">
          <h2 id="passkey-instead-heading" class="small-heading">
            {m.passkeyInsteadTitle}
          </h2>
          <p>{m.passkeyAddIntro}</p>
          <Button kind="secondary" type="button" busy={busy} onClick={withPasskey}>
            {m.passkeyInstead}
          </Button>
        </section>
      )}
    </>
  );
}

export function SetUpKey() {
  const s = useSession();
  const [passphrase, setPassphrase] = useState("");
  const [again, setAgain] = useState("");
  const [errors, setErrors] = useState<FieldError[]>([]);
  const [busy, setBusy] = useState(false);
  const [made, setMade] = useState<{ file: string; fingerprint: string } | null>(null);
  const [downloaded, setDownloaded] = useState(false);

  const submit = async () => {
    const found: FieldError[] = [];
    if (passphrase.length < 20) found.push({ field: "passphrase", text: m.passphraseTooShort });
    else if (passphrase !== again) found.push({ field: "confirm-passphrase", text: m.passphrasesDiffer });
    setErrors(found);
    if (found.length || !s.me) return;
    setBusy(true);
    try {
      const fresh = await newIdentity();
      const file = identityFile(fresh.identity, fresh.recipient);
      const wrapped = await wrap(file, passphrase);
      await call("PUT", "/api/v1/me/key", { age_recipient: fresh.recipient, wrapped_identity: wrapped });
      await keepWrapped(s.me.id, wrapped);
      adopt(fresh.identity);
      setMade({ file, fingerprint: await fingerprint(fresh.recipient) });
    } catch (e) {
      setErrors([{ field: "passphrase", text: e instanceof Problem ? e.plain : String(e) }]);
    } finally {
      setBusy(false);
    }
  };

  if (made) {
    const href = URL.createObjectURL(new Blob([made.file], { type: "text/plain" }));
    return (
      <>
        <h1>{m.recoveryTitle}</h1>
        <p class="lede">{m.recoveryIntro}</p>
        <p>
          <a class="button button-secondary" href={href} download="iro-advice-recovery-key.txt" onClick={() => setDownloaded(true)}>
            {m.recoveryDownload}
          </a>
        </p>
        <h2 class="small-heading">{m.fingerprint}</h2>
        <p class="secret" {...asData} id="fingerprint">
          {made.fingerprint}
        </p>
        {downloaded && (
          <Button type="button" onClick={() => continueFrom(s)}>
            {m.recoverySaved}
          </Button>
        )}
      </>
    );
  }

  return (
    <>
      <ErrorSummary errors={errors} />
      <h1>{m.keyTitle}</h1>
      <p class="lede">{m.keyIntro}</p>
      <Form onSubmit={submit}>
        <TextInput id="passphrase" label={m.passphrase} hint={m.passphraseHint} type="password" autocomplete="new-password" value={passphrase} onInput={setPassphrase} error={errorFor(errors, "passphrase")} />
        <TextInput id="confirm-passphrase" label={m.confirmPassphrase} type="password" autocomplete="new-password" value={again} onInput={setAgain} error={errorFor(errors, "confirm-passphrase")} />
        {busy && <p role="status">{m.keyCreating}</p>}
        <Button busy={busy}>{m.createKey}</Button>
      </Form>
    </>
  );
}
