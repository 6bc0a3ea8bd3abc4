import { useEffect, useState } from "preact/hooks";
import { call, Problem } from "../api";
import { useSession } from "../app";
import { adopt, passkeyUnlockEnabled, recipientOf, secretFrom, unlock, unlockWithPasskey, forget } from "../crypto";
import { m } from "../messages";
import { keepWrapped, keptWrapped } from "../store";
import { passkeysSupported, stepUpHeader, stepUpPasskey } from "../passkeys";
import { Button, ErrorSummary, Form, TextInput, errorFor, type FieldError } from "../ui";

export function Unlock() {
  const s = useSession();
  const [kept, setKept] = useState<string | undefined | null>(null);
  const [passphrase, setPassphrase] = useState("");
  const [code, setCode] = useState("");
  const [errors, setErrors] = useState<FieldError[]>([]);
  const [busy, setBusy] = useState(false);
  const [fromFile, setFromFile] = useState(false);
  const [file, setFile] = useState<File | null>(null);

  /// A new device, or a forgotten passphrase: the recovery file is the identity itself.
  const useFile = async () => {
    if (!s.me || !file) {
      setErrors([{ field: "recovery-file", text: m.recoveryFileWrong }]);
      return;
    }
    try {
      const secret = secretFrom(await file.text());
      if ((await recipientOf(secret)) !== s.me.age_recipient) throw new Error("another key");
      adopt(secret);
      s.go("#/");
    } catch {
      setErrors([{ field: "recovery-file", text: m.recoveryFileWrong }]);
    }
  };

  const [sealedToPasskey, setSealedToPasskey] = useState(false);
  useEffect(() => {
    if (s.me) keptWrapped(s.me.id).then(setKept);
    if (s.me) passkeyUnlockEnabled(s.me.id).then(setSealedToPasskey);
  }, [s.me?.id]);

  /// This device's copy sealed to a passkey (WebAuthn PRF), if the person set one up here.
  const withDevicePasskey = async () => {
    if (!s.me?.age_recipient) return;
    setBusy(true);
    setErrors([]);
    try {
      await unlockWithPasskey(s.me.id, s.me.age_recipient);
      s.go("#/");
    } catch {
      setErrors([{ field: "passphrase", text: m.unlockDevicePasskeyFailed }]);
    } finally {
      setBusy(false);
    }
  };

  /// On a new device, a passkey vouches for fetching the locked copy instead of a code.
  const canPasskey = !kept && !!s.me?.passkey_enabled && passkeysSupported();
  const submit = (viaPasskey = false) => unlockWith(viaPasskey);
  const unlockWith = async (viaPasskey: boolean) => {
    if (!s.me) return;
    const found: FieldError[] = [];
    if (!kept && !viaPasskey && !/^\d{6}$/.test(code.trim())) found.push({ field: "totp", text: m.problems["step-up-required"] });
    if (!passphrase) found.push({ field: "passphrase", text: m.required.replace("{field}", "your key passphrase") });
    setErrors(found);
    if (found.length) return;
    setBusy(true);
    try {
      let wrapped = kept;
      if (!wrapped) {
        const proof = viaPasskey ? stepUpHeader(await stepUpPasskey()) : { "X-Step-Up-Code": code.trim() };
        const got = await call<{ wrapped_identity: string }>("GET", "/api/v1/me/key", undefined, proof);
        wrapped = got.wrapped_identity;
      }
      try {
        const id = await unlock(wrapped, passphrase);
        // The key must be the one the service holds for this account, or nothing sent to
        // it could be read: a stale copy on this device is replaced.
        if ((await recipientOf(id)) !== s.me.age_recipient) {
          forget();
          setKept(undefined);
          setErrors([{ field: "totp", text: m.unlockNewDevice }]);
          return;
        }
      } catch {
        setErrors([{ field: "passphrase", text: m.unlockFailed }]);
        if (!kept) setKept(wrapped);
        return;
      }
      await keepWrapped(s.me.id, wrapped);
      s.go("#/");
    } catch (e) {
      setErrors([{ field: "totp", text: e instanceof Problem ? e.plain : String(e) }]);
    } finally {
      setBusy(false);
    }
  };

  if (kept === null) return <p>{m.loading}</p>;
  if (fromFile) {
    return (
      <>
        <ErrorSummary errors={errors} />
        <h1>{m.unlockTitle}</h1>
        <Form onSubmit={useFile}>
          <div class={errorFor(errors, "recovery-file") ? "field field-error" : "field"}>
            <label for="recovery-file">{m.recoveryFile}</label>
            <p class="hint" id="recovery-file-hint">
              {m.recoveryFileHint}
            </p>
            {errorFor(errors, "recovery-file") && <p class="error-message">{errorFor(errors, "recovery-file")}</p>}
            <input id="recovery-file" type="file" class="file-input" aria-describedby="recovery-file-hint" onChange={(e) => setFile((e.target as HTMLInputElement).files?.[0] ?? null)} />
          </div>
          <Button>{m.recoveryUnlock}</Button>
        </Form>
      </>
    );
  }
  return (
    <>
      <ErrorSummary errors={errors} />
      <h1>{m.unlockTitle}</h1>
      <p class="lede">{kept ? m.unlockIntro : s.me?.totp_enabled ? m.unlockNewDevice : m.unlockNewDevicePasskey}</p>
      {sealedToPasskey && (
        <p>
          <Button type="button" busy={busy} onClick={withDevicePasskey}>
            {m.unlockWithDevicePasskey}
          </Button>
        </p>
      )}
      <Form onSubmit={() => submit(canPasskey && !s.me?.totp_enabled)}>
        {!kept && s.me?.totp_enabled && (
          <TextInput id="totp" label={m.totpCode} hint={m.totpHint} inputMode="numeric" autocomplete="one-time-code" width="short" value={code} onInput={setCode} error={errorFor(errors, "totp")} />
        )}
        <TextInput id="passphrase" label={m.passphrase} type="password" autocomplete="current-password" value={passphrase} onInput={setPassphrase} error={errorFor(errors, "passphrase")} />
        {(kept || s.me?.totp_enabled) && <Button busy={busy}>{m.unlock}</Button>}
        {canPasskey && (
          <Button kind={s.me?.totp_enabled ? "secondary" : "primary"} type="button" busy={busy} onClick={() => submit(true)}>
            {s.me?.totp_enabled ? m.unlockWithPasskey : m.unlockPasskeyOnly}
          </Button>
        )}
      </Form>
      <p>
        <button type="button" class="link-button" onClick={() => { setErrors([]); setFromFile(true); }}>
          {m.recoveryInstead}
        </button>
      </p>
    </>
  );
}
