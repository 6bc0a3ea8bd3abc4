// The operator's console: every account, found by name, email or authority, with what an
// administrator may do to it (suspend, reactivate, approve NAIRO's nominations, check an
// adviser, reset a lost second step); and the form that invites someone, showing the
// invitation's code once.

import { Fragment, type ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import { call, Problem, type AccountSummary, type Authority } from "../api";
import { authorities, authorityName } from "../areas";
import { fill, language, m } from "../messages";
import { Button, ErrorSummary, Form, Notice, Radios, Select, TextInput, asData, dateText, errorFor, say, type FieldError, type Text } from "../ui";

const problemText = (e: unknown) => (e instanceof Problem ? e.plain : String(e));

export function Accounts() {
  const [accounts, setAccounts] = useState<AccountSummary[] | null>(null);
  const [search, setSearch] = useState("");
  const [role, setRole] = useState("all");
  const [done, setDone] = useState<Text | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [errors, setErrors] = useState<FieldError[]>([]);
  // The one account whose check or reset form is open under its row.
  const [open, setOpen] = useState<{ id: string; what: "check" | "reset" } | null>(null);

  const load = () =>
    call<AccountSummary[]>("GET", "/api/v1/accounts")
      .then(setAccounts)
      .catch((e) => setErrors([{ field: "search", text: problemText(e) }]));
  useEffect(() => {
    load();
  }, []);

  const act = async (a: AccountSummary, action: "suspend" | "reactivate" | "approve" | "verify" | "second-factor/reset", body?: unknown) => {
    setBusy(a.id);
    setErrors([]);
    try {
      await call("POST", `/api/v1/accounts/${encodeURIComponent(a.id)}/${action}`, body);
      const name = a.display_name;
      // Chosen when shown, so that the notice follows a change of language.
      setDone(() => () => fill({ suspend: m.accountSuspended, reactivate: m.accountReactivated, approve: m.accountApproved, verify: m.adviserMarkedChecked, "second-factor/reset": m.factorResetDone }[action], { name }));
      setOpen(null);
      await load();
    } catch (e) {
      setErrors([{ field: open ? `${open.what}-${a.id}` : `account-${a.id}`, text: problemText(e) }]);
    } finally {
      setBusy(null);
    }
  };
  const nameOf = (id?: string | null) => accounts?.find((x) => x.id === id)?.display_name ?? "";

  const needle = search.trim().toLowerCase();
  const shown = (accounts ?? []).filter(
    (a) => (role === "all" || a.role === role) && (!needle || [a.display_name, a.email, a.authority_code ?? ""].some((f) => f.toLowerCase().includes(needle))),
  );
  return (
    <>
      <ErrorSummary errors={errors} />
      {done && <Notice success>{say(done)}</Notice>}
      <h1>{m.accountsTitle}</h1>
      <p>
        <a class="button" href="#/invite">
          {m.inviteTitle}
        </a>
      </p>
      <div class="columns">
        <TextInput id="search" label={m.accountsSearch} hint={m.accountsSearchHint} value={search} onInput={setSearch} />
        <Select id="role-filter" label={m.accountsRole} width="short" value={role} onChange={setRole}>
          <option value="all">{m.accountsAllRoles}</option>
          {["iro", "adviser", "nairo", "admin"].map((r) => (
            <option value={r} key={r}>
              {m.roles[r]}
            </option>
          ))}
        </Select>
      </div>
      {accounts && (
        <p role="status" class="hint">
          {fill(m.accountsShown, { shown: shown.length, count: accounts.length })}
        </p>
      )}
      {accounts && shown.length > 0 && (
        <table class="table">
          <caption class="visually-hidden">{m.accountsTitle}</caption>
          <thead>
            <tr>
              <th scope="col">{m.accountName}</th>
              <th scope="col">{m.accountsRole}</th>
              <th scope="col">{m.accountsStatus}</th>
              <th scope="col">
                <span class="visually-hidden">{m.actions}</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {shown.map((a) => (
              <Fragment key={a.id}>
              <tr id={`account-${a.id}`}>
                <td>
                  <span {...asData}>{a.display_name}</span>
                  <br />
                  <span class="hint" {...asData}>
                    {a.email}
                  </span>
                </td>
                <td>
                  {a.role === "adviser" && a.adviser_kind ? (m.kinds[a.adviser_kind] ?? a.adviser_kind) : m.roles[a.role]}
                  {a.authority_code && (
                    <>
                      <br />
                      <span class="hint" {...asData}>
                        {a.authority_code}
                      </span>
                    </>
                  )}
                </td>
                <td>
                  {a.status === "suspended" ? <strong class="tag tag-urgent">{m.accountStatuses.suspended}</strong> : m.accountStatuses.active}
                  {a.approved_at === null && <p class="hint">{m.accountAwaitingApproval}</p>}
                  {a.role === "adviser" &&
                    (a.verified_at ? (
                      <p class="hint">
                        {fill(m.accountsCheckedBy, { name: nameOf(a.verified_by), date: dateText(a.verified_at) })}
                        {a.sra_number && (
                          <>
                            <br />
                            {fill(m.accountsSra, { number: a.sra_number })}
                          </>
                        )}
                      </p>
                    ) : (
                      <p>
                        <strong class="tag">{m.adviserNotChecked}</strong>
                      </p>
                    ))}
                </td>
                <td class="actions">
                  {a.approved_at === null && (
                    <button type="button" class="button button-secondary" disabled={busy !== null} aria-label={fill(m.approveLabel, { name: a.display_name })} onClick={() => act(a, "approve")}>
                      {m.approve}
                    </button>
                  )}
                  {a.role === "adviser" && (
                    <button type="button" class="button button-secondary" disabled={busy !== null} aria-expanded={open?.id === a.id && open.what === "check"} aria-label={fill(m.checkAdviserLabel, { name: a.display_name })} onClick={() => setOpen({ id: a.id, what: "check" })}>
                      {m.checkAdviser}
                    </button>
                  )}
                  <button type="button" class="button button-secondary" disabled={busy !== null} aria-expanded={open?.id === a.id && open.what === "reset"} aria-label={fill(m.resetFactorLabel, { name: a.display_name })} onClick={() => setOpen({ id: a.id, what: "reset" })}>
                    {m.resetFactor}
                  </button>
                  {a.status === "suspended" ? (
                    <button type="button" class="button button-secondary" disabled={busy !== null} aria-label={fill(m.reactivateLabel, { name: a.display_name })} onClick={() => act(a, "reactivate")}>
                      {m.reactivate}
                    </button>
                  ) : (
                    <button type="button" class="button button-warning" disabled={busy !== null} aria-label={fill(m.suspendLabel, { name: a.display_name })} onClick={() => act(a, "suspend")}>
                      {m.suspend}
                    </button>
                  )}
                </td>
              </tr>
              {open?.id === a.id && (
                <tr>
                  <td colSpan={4}>
                    {open.what === "check" ? (
                      <CheckForm account={a} busy={busy !== null} error={errorFor(errors, `check-${a.id}`)} onCancel={() => setOpen(null)} onCheck={(sra) => act(a, "verify", sra ? { sra_number: sra } : {})} />
                    ) : (
                      <ResetForm account={a} busy={busy !== null} error={errorFor(errors, `reset-${a.id}`)} onCancel={() => setOpen(null)} onReset={() => act(a, "second-factor/reset")} />
                    )}
                  </td>
                </tr>
              )}
              </Fragment>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

/// A form opened under an account's row: its text, an error from the service, the act and
/// a way out.
function InlineForm(p: { id: string; warning?: boolean; error?: string; busy: boolean; act: string; onAct: () => void; onCancel: () => void; children: ComponentChildren }) {
  return (
    <div class={p.warning ? "inline-form inline-form-warning" : "inline-form"} role="group" aria-labelledby={`${p.id}-title`}>
      {p.children}
      {p.error && (
        <p class="error-message" id={p.id}>
          {p.error}
        </p>
      )}
      <p class="actions">
        <Button type="button" kind={p.warning ? "warning" : "primary"} busy={p.busy} onClick={p.onAct}>
          {p.act}
        </Button>
        <Button type="button" kind="secondary" onClick={p.onCancel}>
          {m.cancel}
        </Button>
      </p>
    </div>
  );
}

/// An admin's check of an adviser: a solicitor's SRA number as read on the register, or a
/// peer adviser's post confirmed with their authority.
function CheckForm(p: { account: AccountSummary; busy: boolean; error?: string; onCancel: () => void; onCheck: (sra?: string) => void }) {
  const solicitor = p.account.adviser_kind === "solicitor";
  const [sra, setSra] = useState(p.account.sra_number ?? "");
  const [invalid, setInvalid] = useState(false);
  const id = `check-${p.account.id}`;
  const check = () => {
    const digits = sra.replace(/\s/g, "");
    if (solicitor && !/^[0-9]{5,8}$/.test(digits)) {
      setInvalid(true);
      document.getElementById(id)?.focus();
      return;
    }
    setInvalid(false);
    p.onCheck(solicitor ? digits : undefined);
  };
  return (
    // A solicitor's field shows the error itself.
    <InlineForm id={id} error={solicitor ? undefined : p.error} busy={p.busy} act={m.markChecked} onAct={check} onCancel={p.onCancel}>
      <h2 class="small-heading" id={`${id}-title`}>
        {fill(m.checkTitle, { name: p.account.display_name })}
      </h2>
      <p>{solicitor ? m.checkSolicitorIntro : m.checkPeerIntro}</p>
      {solicitor && <TextInput id={id} label={m.sraNumber} hint={m.sraNumberHint} width="short" value={sra} onInput={setSra} error={invalid ? m.sraNumberInvalid : p.error} autocomplete="off" />}
    </InlineForm>
  );
}

function ResetForm(p: { account: AccountSummary; busy: boolean; error?: string; onCancel: () => void; onReset: () => void }) {
  const id = `reset-${p.account.id}`;
  return (
    <InlineForm id={id} warning error={p.error} busy={p.busy} act={m.resetDo} onAct={p.onReset} onCancel={p.onCancel}>
      <p id={`${id}-title`}>{fill(m.resetConfirm, { name: p.account.display_name })}</p>
    </InlineForm>
  );
}

export function Invite() {
  const [role, setRole] = useState("");
  const [email, setEmail] = useState("");
  const [authority, setAuthority] = useState("");
  const [kind, setKind] = useState("");
  const [lang, setLang] = useState<string>(language());
  const [all, setAuthorities] = useState<Authority[]>([]);
  const [made, setMade] = useState<{ email: string; code: string; expires: string } | null>(null);
  const [errors, setErrors] = useState<FieldError[]>([]);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    authorities().then(setAuthorities, (e) => setErrors([{ field: "invite-role", text: problemText(e) }]));
  }, []);

  const submit = async () => {
    const found: FieldError[] = [];
    if (!role) found.push({ field: "invite-role", text: m.inviteChooseRole });
    if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email.trim())) found.push({ field: "invite-email", text: m.inviteEmailInvalid });
    if (role === "iro" && !authority) found.push({ field: "invite-authority", text: m.inviteChooseAuthority });
    if (role === "adviser" && !kind) found.push({ field: "invite-kind", text: m.inviteChooseKind });
    setErrors(found);
    if (found.length) return;
    setBusy(true);
    try {
      const body: Record<string, string> = { role, email: email.trim() };
      if ((role === "iro" || role === "adviser") && authority) body.authority_code = authority;
      if (role === "adviser") body.adviser_kind = kind;
      body.language = lang;
      const r = await call<{ code: string; expires_at: string }>("POST", "/api/v1/invitations", body);
      setMade({ email: email.trim(), code: r.code, expires: r.expires_at });
      setEmail("");
    } catch (e) {
      setErrors([{ field: "invite-email", text: problemText(e) }]);
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      <ErrorSummary errors={errors} />
      {made && (
        <div class="panel" role="status">
          <h2>{m.invitedTitle}</h2>
          <p>{fill(m.invitedIntro, { email: made.email })}</p>
          <p class="secret" id="invitation-code" {...asData}>
            {made.code}
          </p>
          <p>{m.invitedOnce}</p>
        </div>
      )}
      <h1>{m.inviteTitle}</h1>
      <p>{m.inviteIntro}</p>
      <Form onSubmit={submit}>
        <Radios id="invite-role" legend={m.inviteRole} value={role} onChange={setRole} error={errorFor(errors, "invite-role")} options={["iro", "adviser", "nairo", "admin"].map((r) => ({ value: r, label: m.roles[r] }))} />
        <TextInput id="invite-email" type="email" label={m.email} hint={m.inviteEmailHint} value={email} onInput={setEmail} error={errorFor(errors, "invite-email")} autocomplete="off" />
        {(role === "iro" || role === "adviser") && (
          <Select id="invite-authority" label={role === "iro" ? m.inviteAuthority : m.inviteAdviserAuthority} value={authority} onChange={setAuthority} error={errorFor(errors, "invite-authority")}>
            <option value="">{m.inviteNoAuthority}</option>
            {[...all].sort((x, y) => authorityName(x).localeCompare(authorityName(y))).map((a) => (
              <option value={a.code} key={a.code} {...asData}>
                {authorityName(a)}
              </option>
            ))}
          </Select>
        )}
        {role === "adviser" && (
          <Radios id="invite-kind" legend={m.inviteKind} value={kind} onChange={setKind} error={errorFor(errors, "invite-kind")} options={["solicitor", "peer"].map((k) => ({ value: k, label: m.kinds[k] }))} />
        )}
        <Radios id="invite-language" legend={m.inviteLanguage} hint={m.inviteLanguageHint} value={lang} onChange={setLang} options={(["en", "cy"] as const).map((l) => ({ value: l, label: m.languages[l] }))} />
        <Button busy={busy}>{m.inviteSend}</Button>
      </Form>
      <p>
        <a href="#/accounts">{m.backToAccounts}</a>
      </p>
    </>
  );
}
