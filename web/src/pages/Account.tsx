import { Fragment } from "preact";
import { useEffect, useMemo, useState } from "preact/hooks";
import { call, Problem, setTokens, type Authority, type Me, type PasskeyInfo, type SessionEntry } from "../api";
import { useSession } from "../app";
import { disablePasskeyUnlock, enablePasskeyUnlock, fingerprint, forget, identity, passkeyUnlockEnabled } from "../crypto";
import { fill, language, m } from "../messages";
import { createPasskey, passkeysSupported, stepUpHeader, stepUpPasskey } from "../passkeys";
import { loggedSignIns, sessionDigest, trustedKeys, type LoggedSignIn } from "../log";
import { authorities, authorityName, regionName } from "../areas";
import { Button, ErrorSummary, Form, Notice, Radios, TextInput, asData, dateTimeText, errorFor, say, type FieldError, type Text } from "../ui";

/// The account's key fingerprint; for an adviser, availability and conflicts.
export function Account() {
  const s = useSession();
  const me = s.me;
  const [print, setPrint] = useState("");
  const [errors, setErrors] = useState<FieldError[]>([]);
  const [saved, setSaved] = useState<Text | null>(null);
  // Bumped after every change, so that lists a change can affect (sessions) are read again.
  const [version, setVersion] = useState(0);

  useEffect(() => {
    if (me?.age_recipient) fingerprint(me.age_recipient).then(setPrint);
  }, [me?.age_recipient]);

  if (!me) return null;
  const refresh = async (text: Text) => {
    s.setMe(await call<Me>("GET", "/api/v1/me"));
    setVersion((v) => v + 1);
    setSaved(() => text);
  };
  return (
    <>
      <ErrorSummary errors={errors} />
      {saved && <Notice success>{say(saved)}</Notice>}
      <h1>{m.accountTitle}</h1>
      <dl class="summary">
        <dt>{m.displayName}</dt>
        <dd {...asData}>{me.display_name}</dd>
        <dt>{m.email}</dt>
        <dd {...asData}>{me.email}</dd>
      </dl>
      <h2 class="small-heading">{m.fingerprint}</h2>
      <p class="hint">{m.fingerprintHint}</p>
      <p class="secret" id="own-fingerprint" {...asData}>
        {print}
      </p>
      {me.role === "adviser" && (
        <>
          <Availability me={me} onSaved={refresh} onError={setErrors} />
          <Conflicts me={me} onSaved={refresh} onError={setErrors} />
        </>
      )}
      <TrustedKeys />
      <Sessions version={version} onSaved={refresh} onError={setErrors} />
      <Factors me={me} onSaved={refresh} onError={setErrors} />
      {passkeysSupported() && identity() && <PasskeyUnlock me={me} onSaved={refresh} onError={setErrors} />}
      <ChangePassword me={me} onSaved={refresh} errors={errors} onError={setErrors} />
    </>
  );
}

/// What this browser pinned on first use, shown so that a person can compare it with the
/// keys NAIRO publishes: a service that pinned a browser to keys of its own is found out.
function TrustedKeys() {
  const [keys, setKeys] = useState<{ log_key: string; witnesses: string[]; quorum: number } | null>(null);
  useEffect(() => {
    trustedKeys().then(setKeys, () => undefined);
  }, []);
  if (!keys) return null;
  return (
    <section aria-labelledby="trust-heading">
      <h2 id="trust-heading" class="small-heading">
        {m.trustTitle}
      </h2>
      <p class="hint">{fill(m.trustHint, { quorum: keys.quorum, count: keys.witnesses.length })}</p>
      <ul class="keys">
        <li>
          {m.trustLog} <code id="trusted-log-key">{keys.log_key}</code>
        </li>
        {keys.witnesses.map((w) => (
          <li key={w}>
            {m.trustWitness} <code>{w}</code>
          </li>
        ))}
      </ul>
    </section>
  );
}

/// A date and time as a person reads it: "3 December 2026 at 14:05".
function when(iso: string): string {
  const d = new Date(iso.endsWith("Z") ? iso : `${iso}Z`);
  if (isNaN(d.getTime())) return iso;
  return dateTimeText(d);
}

function Sessions({ version, onSaved, onError }: { version: number; onSaved: (text: Text) => Promise<void>; onError: (e: FieldError[]) => void }) {
  const s = useSession();
  const [list, setList] = useState<SessionEntry[]>([]);
  const [busy, setBusy] = useState<string | null>(null);
  // This browser first, then the others newest first, as the service lists them.
  const load = () => call<SessionEntry[]>("GET", "/api/v1/me/sessions").then((all) => setList([...all.filter((e) => e.current), ...all.filter((e) => !e.current)]));
  useEffect(() => {
    load().catch(() => undefined);
  }, [version]);
  const end = async (entry: SessionEntry) => {
    setBusy(entry.id);
    try {
      await call("DELETE", `/api/v1/me/sessions/${encodeURIComponent(entry.id)}`);
      if (entry.current) return await signedOut(s, () => m.signedOut);
      await onSaved(() => m.sessionEnded);
    } catch (e) {
      onError([{ field: `session-${entry.id}`, text: e instanceof Problem ? e.plain : String(e) }]);
    } finally {
      setBusy(null);
    }
  };
  const endAll = async () => {
    setBusy("all");
    try {
      await call("DELETE", "/api/v1/me/sessions");
      await signedOut(s, () => m.signedOutEverywhere);
    } catch (e) {
      onError([{ field: "sign-out-everywhere", text: e instanceof Problem ? e.plain : String(e) }]);
      setBusy(null);
    }
  };
  return (
    <section aria-labelledby="sessions-heading">
      <h2 id="sessions-heading">{m.sessionsTitle}</h2>
      <p>{m.sessionsIntro}</p>
      <ul class="sessions">
        {list.map((entry) => (
          <li key={entry.id} class="session">
            <p>
              <strong>{entry.current ? m.sessionThis : entry.client === "web" ? m.sessionWeb : m.sessionApi}</strong>
              <br />
              {entry.last_active_at
                ? fill(m.sessionTimes, { started: when(entry.started_at), active: when(entry.last_active_at), ends: when(entry.ends_at) })
                : fill(m.sessionTimesNoActivity, { started: when(entry.started_at), ends: when(entry.ends_at) })}
            </p>
            {!entry.current && (
              <button type="button" id={`session-${entry.id}`} class="button button-secondary" aria-label={fill(m.sessionEndLabel, { when: when(entry.started_at) })} disabled={busy !== null} onClick={() => end(entry)}>
                {m.sessionEnd}
              </button>
            )}
          </li>
        ))}
      </ul>
      <p class="hint" id="sign-out-everywhere-hint">
        {m.signOutEverywhereHint}
      </p>
      <button type="button" id="sign-out-everywhere" class="button button-warning" aria-describedby="sign-out-everywhere-hint" disabled={busy !== null} onClick={endAll}>
        {m.signOutEverywhere}
      </button>
      <SignIns open={list} />
    </section>
  );
}

/// The sign-ins the witnessed log holds for this account, each matched with a session still
/// open: what the service's own session list cannot hide, since its rows can be deleted.
function SignIns({ open }: { open: SessionEntry[] }) {
  const s = useSession();
  const [found, setFound] = useState<{ signIns: LoggedSignIn[]; missing: number[]; open: Map<string, SessionEntry> } | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  useEffect(() => {
    const account = s.me?.id;
    if (!account) return;
    (async () => {
      const logged = await loggedSignIns(account);
      const byDigest = new Map<string, SessionEntry>();
      for (const entry of open) byDigest.set(await sessionDigest(entry.id), entry);
      setFound({ ...logged, open: byDigest });
      setProblem(null);
    })().catch((e) => setProblem(e instanceof Error ? e.message : String(e)));
  }, [open, s.me?.id]);
  return (
    <section aria-labelledby="sign-ins-heading" id="sign-ins">
      <h3 id="sign-ins-heading">{m.signInsTitle}</h3>
      <p>{m.signInsIntro}</p>
      {problem && <p class="warning-panel">{fill(m.signInsUnchecked, { why: problem })}</p>}
      {found && found.missing.length > 0 && (
        <p class="warning-panel" role="alert" id="sign-ins-missing">
          {fill(m.signInsMissing, { count: found.missing.length })}
        </p>
      )}
      {found && found.signIns.length === 0 && <p>{m.signInsNone}</p>}
      {found && found.signIns.length > 0 && (
        <ul class="sign-ins">
          {found.signIns.map((x) => {
            const entry = found.open.get(x.session);
            const text = entry?.current ? m.signInHere : entry ? m.signInOpen : m.signInGone;
            return (
              <li key={x.index} class={entry ? "sign-in" : "sign-in sign-in-gone"} data-leaf={x.index}>
                {fill(text, { when: when(x.at.toISOString()) })}
              </li>
            );
          })}
        </ul>
      )}
    </section>
  );
}

/// The session has ended on the service: forget the key and the token here too.
async function signedOut(s: ReturnType<typeof useSession>, why: Text) {
  forget();
  setTokens(null);
  s.setMe(null);
  s.setNotice(why);
  s.go("#/sign-in");
}

function Factors({ me, onSaved, onError }: Part) {
  const [keys, setKeys] = useState<PasskeyInfo[]>([]);
  const [code, setCode] = useState("");
  const [busy, setBusy] = useState(false);
  const load = () => call<PasskeyInfo[]>("GET", "/api/v1/me/passkeys").then(setKeys);
  useEffect(() => {
    load().catch(() => undefined);
  }, []);
  const remove = async (key: PasskeyInfo) => {
    if (me.totp_enabled && !/^\d{6}$/.test(code.trim())) return onError([{ field: "factor-code", text: m.problems["step-up-required"] }]);
    setBusy(true);
    try {
      const proof = me.totp_enabled ? { "X-Step-Up-Code": code.trim() } : stepUpHeader(await stepUpPasskey());
      await call("DELETE", `/api/v1/me/passkeys/${encodeURIComponent(key.id)}`, undefined, proof);
      setCode("");
      await load();
      await onSaved(() => m.factorRemoved);
    } catch (e) {
      onError([{ field: "factor-code", text: e instanceof Problem ? e.plain : String(e) }]);
    } finally {
      setBusy(false);
    }
  };
  return (
    <section aria-labelledby="factors-heading">
      <h2 id="factors-heading">{m.factorsTitle}</h2>
      <dl class="summary">
        <dt>{m.factorTotp}</dt>
        <dd id="factor-totp">{me.totp_enabled ? m.factorOn : m.factorOff}</dd>
        {keys.map((key) => (
          <Fragment key={key.id}>
            <dt>{fill(m.factorPasskey, { name: key.name })}</dt>
            <dd>
              {fill(m.factorPasskeyAdded, { when: when(key.created_at) })}{" "}
              <button type="button" class="button button-secondary" aria-label={fill(m.factorRemoveLabel, { name: key.name })} disabled={busy} onClick={() => remove(key)}>
                {m.factorRemove}
              </button>
            </dd>
          </Fragment>
        ))}
      </dl>
      {keys.length > 0 && me.totp_enabled && (
        <TextInput id="factor-code" label={m.stepUpCode} hint={m.totpHint} inputMode="numeric" autocomplete="one-time-code" width="short" value={code} onInput={setCode} />
      )}
      {passkeysSupported() && <AddPasskey me={me} onAdded={async (text) => (await load(), onSaved(text))} onError={onError} />}
    </section>
  );
}

/// A new passkey, vouched for by a code from the authenticator app or, without one, by a
/// passkey the account already has.
function AddPasskey({ me, onAdded, onError }: { me: Me; onAdded: (text: Text) => Promise<void>; onError: (e: FieldError[]) => void }) {
  const [name, setName] = useState("");
  const [code, setCode] = useState("");
  const [busy, setBusy] = useState(false);
  const submit = async () => {
    if (me.totp_enabled && !/^\d{6}$/.test(code.trim())) return onError([{ field: "passkey-code", text: m.problems["step-up-required"] }]);
    if (name.trim().length > 60) return onError([{ field: "passkey-name", text: m.passkeyNameTooLong }]);
    onError([]);
    setBusy(true);
    try {
      const credential = await createPasskey();
      // Vouched for by the authenticator app, or else by a passkey the account already has.
      const body: Record<string, unknown> = me.totp_enabled ? { credential, totp_code: code.trim() } : { credential, passkey: await stepUpPasskey() };
      if (name.trim()) body.name = name.trim();
      await call("POST", "/api/v1/me/passkeys", body);
      setName("");
      setCode("");
      await onAdded(() => m.passkeyAdded);
    } catch (e) {
      onError([{ field: "passkey-code", text: e instanceof Problem ? e.plain : String(e) }]);
    } finally {
      setBusy(false);
    }
  };
  return (
    <section aria-labelledby="passkey-add-heading">
      <h3 id="passkey-add-heading">{m.passkeyAddTitle}</h3>
      <p>{m.passkeyAddIntro}</p>
      <Form onSubmit={submit}>
        <TextInput id="passkey-name" label={m.passkeyName} hint={m.passkeyNameHint} value={name} onInput={setName} />
        {me.totp_enabled && <TextInput id="passkey-code" label={m.passkeyCode} hint={m.totpHint} inputMode="numeric" autocomplete="one-time-code" width="short" value={code} onInput={setCode} />}
        <Button kind="secondary" busy={busy}>
          {m.passkeyAdd}
        </Button>
      </Form>
    </section>
  );
}

/// Seals the unlocked key, on this device only, to a new passkey through the PRF extension.
function PasskeyUnlock({ me, onSaved, onError }: Part) {
  const [enabled, setEnabled] = useState<boolean | null>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    passkeyUnlockEnabled(me.id).then(setEnabled);
  }, [me.id]);
  const toggle = async () => {
    setBusy(true);
    onError([]);
    try {
      if (enabled) {
        await disablePasskeyUnlock(me.id);
        setEnabled(false);
        await onSaved(() => m.passkeyUnlockOff);
      } else {
        await enablePasskeyUnlock(me.id);
        setEnabled(true);
        await onSaved(() => m.passkeyUnlockOn);
      }
    } catch {
      onError([{ field: "passkey-unlock", text: m.passkeyUnlockFailed }]);
    } finally {
      setBusy(false);
    }
  };
  if (enabled === null) return null;
  return (
    <section aria-labelledby="passkey-unlock-heading">
      <h2 id="passkey-unlock-heading">{m.passkeyUnlockTitle}</h2>
      <p>{enabled ? m.passkeyUnlockIsOn : m.passkeyUnlockIntro}</p>
      <button type="button" id="passkey-unlock" class="button button-secondary" disabled={busy} onClick={toggle}>
        {enabled ? m.passkeyUnlockDisable : m.passkeyUnlockEnable}
      </button>
    </section>
  );
}

function ChangePassword({ me, onSaved, errors, onError }: { me: Me; onSaved: (text: Text) => Promise<void>; errors: FieldError[]; onError: (e: FieldError[]) => void }) {
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [confirm, setConfirm] = useState("");
  const [code, setCode] = useState("");
  const [busy, setBusy] = useState(false);
  const submit = async () => {
    const found: FieldError[] = [];
    if (!current) found.push({ field: "current-password", text: fill(m.required, { field: "your current password" }) });
    if (next.length < 12) found.push({ field: "new-password", text: m.passwordTooShort });
    else if (next !== confirm) found.push({ field: "confirm-new-password", text: m.passwordsDiffer });
    if (me.totp_enabled && !/^\d{6}$/.test(code.trim())) found.push({ field: "password-code", text: m.problems["second-factor-required"] });
    onError(found);
    if (found.length) return;
    setBusy(true);
    try {
      const proof = me.totp_enabled ? { totp_code: code.trim() } : { passkey: await stepUpPasskey() };
      await call("PUT", "/api/v1/me/password", { current_password: current, new_password: next, ...proof });
      setCurrent("");
      setNext("");
      setConfirm("");
      setCode("");
      await onSaved(() => m.passwordChanged);
    } catch (e) {
      const p = e instanceof Problem ? e : null;
      if (p?.type === "invalid-credentials") onError([{ field: "current-password", text: m.problems["invalid-credentials-current"] }]);
      else if (p?.type === "weak-password") onError([{ field: "new-password", text: p.plain }]);
      else onError([{ field: "password-code", text: p ? p.plain : String(e) }]);
    } finally {
      setBusy(false);
    }
  };
  return (
    <section aria-labelledby="password-heading">
      <h2 id="password-heading">{m.passwordTitle}</h2>
      <Form onSubmit={submit}>
        <TextInput id="current-password" label={m.currentPassword} type="password" autocomplete="current-password" value={current} onInput={setCurrent} error={errorFor(errors, "current-password")} />
        <TextInput id="new-password" label={m.newPasswordLabel} hint={m.newPasswordHint} type="password" autocomplete="new-password" value={next} onInput={setNext} error={errorFor(errors, "new-password")} />
        <TextInput id="confirm-new-password" label={m.confirmPassword} type="password" autocomplete="new-password" value={confirm} onInput={setConfirm} error={errorFor(errors, "confirm-new-password")} />
        {me.totp_enabled && <TextInput id="password-code" label={m.totpCode} hint={m.totpHint} inputMode="numeric" autocomplete="one-time-code" width="short" value={code} onInput={setCode} error={errorFor(errors, "password-code")} />}
        <Button kind="secondary" busy={busy}>
          {m.changePassword}
        </Button>
      </Form>
    </section>
  );
}

interface Part {
  me: Me;
  onSaved: (text: Text) => Promise<void>;
  onError: (e: FieldError[]) => void;
}

function Availability({ me, onSaved, onError }: Part) {
  const [value, setValue] = useState(me.accepting === false ? "no" : "yes");
  const [busy, setBusy] = useState(false);
  const submit = async () => {
    setBusy(true);
    try {
      await call("PUT", "/api/v1/me/availability", { accepting: value === "yes" });
      await onSaved(() => fill(m.availabilitySaved, { state: value === "yes" ? m.availabilityYes : m.availabilityNo }));
    } catch (e) {
      onError([{ field: "availability", text: e instanceof Problem ? e.plain : String(e) }]);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Form onSubmit={submit}>
      <Radios
        id="availability"
        legend={m.availabilityLegend}
        hint={m.availabilityHint}
        value={value}
        onChange={setValue}
        options={[
          { value: "yes", label: m.availabilityYes },
          { value: "no", label: m.availabilityNo },
        ]}
      />
      <Button kind="secondary" busy={busy}>
        {m.saveAvailability}
      </Button>
    </Form>
  );
}

function Conflicts({ me, onSaved, onError }: Part) {
  const [all, setAll] = useState<Authority[]>([]);
  const [chosen, setChosen] = useState<Set<string>>(new Set(me.conflicts ?? []));
  const [filter, setFilter] = useState("");
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    authorities().then(setAll);
  }, []);
  const regions = useMemo(() => {
    const wanted = filter.trim().toLowerCase();
    const byRegion = new Map<string, Authority[]>();
    for (const a of all) {
      // Found by either name, in either language.
      const names = [a.name, a.name_cy ?? "", a.region, regionName(a.region)].map((n) => n.toLowerCase());
      if (wanted && !names.some((n) => n.includes(wanted)) && !chosen.has(a.code)) continue;
      byRegion.set(regionName(a.region), [...(byRegion.get(regionName(a.region)) ?? []), a]);
    }
    for (const list of byRegion.values()) list.sort((x, y) => authorityName(x).localeCompare(authorityName(y)));
    return [...byRegion.entries()].sort(([x], [y]) => x.localeCompare(y));
  }, [all, filter, chosen, language()]);
  const toggle = (code: string, on: boolean) => {
    const next = new Set(chosen);
    if (on) next.add(code);
    else next.delete(code);
    setChosen(next);
  };
  const submit = async () => {
    setBusy(true);
    try {
      await call("PUT", "/api/v1/me/conflicts", { authority_codes: [...chosen].sort() });
      const count = chosen.size;
      await onSaved(() => fill(m.conflictsSaved, { count }));
    } catch (e) {
      onError([{ field: "conflicts-filter", text: e instanceof Problem ? e.plain : String(e) }]);
    } finally {
      setBusy(false);
    }
  };
  return (
    <section aria-labelledby="conflicts-heading">
      <h2 id="conflicts-heading">{m.conflictsTitle}</h2>
      <p>{m.conflictsIntro}</p>
      <Form onSubmit={submit}>
        <TextInput id="conflicts-filter" label={m.conflictsFilter} hint={m.conflictsFilterHint} value={filter} onInput={setFilter} />
        <p role="status">{fill(m.conflictsChosen, { count: chosen.size })}</p>
        <div class="authorities">
          {regions.map(([region, list]) => (
            <fieldset key={region} class="region">
              <legend {...asData}>{region}</legend>
              {list.map((a) => (
                <div class="field checkbox" key={a.code}>
                  <input id={`conflict-${a.code}`} type="checkbox" checked={chosen.has(a.code)} onChange={(e) => toggle(a.code, (e.target as HTMLInputElement).checked)} />
                  <label for={`conflict-${a.code}`} {...asData}>
                    {authorityName(a)}
                  </label>
                </div>
              ))}
            </fieldset>
          ))}
        </div>
        <Button kind="secondary" busy={busy}>
          {m.saveConflicts}
        </Button>
      </Form>
    </section>
  );
}
