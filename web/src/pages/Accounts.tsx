// The operator's console: every account, found by name, email or authority, with what an
// administrator may do to it (suspend, reactivate, approve NAIRO's nominations); and the
// form that invites someone, showing the invitation's code once.

import { useEffect, useState } from "preact/hooks";
import { call, Problem, type AccountSummary, type Authority } from "../api";
import { authorities, authorityName } from "../areas";
import { fill, m } from "../messages";
import { Button, ErrorSummary, Form, Notice, Radios, Select, TextInput, asData, errorFor, say, type FieldError, type Text } from "../ui";

const problemText = (e: unknown) => (e instanceof Problem ? e.plain : String(e));

export function Accounts() {
  const [accounts, setAccounts] = useState<AccountSummary[] | null>(null);
  const [search, setSearch] = useState("");
  const [role, setRole] = useState("all");
  const [done, setDone] = useState<Text | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [errors, setErrors] = useState<FieldError[]>([]);

  const load = () =>
    call<AccountSummary[]>("GET", "/api/v1/accounts")
      .then(setAccounts)
      .catch((e) => setErrors([{ field: "search", text: problemText(e) }]));
  useEffect(() => {
    load();
  }, []);

  const act = async (a: AccountSummary, action: "suspend" | "reactivate" | "approve") => {
    setBusy(a.id);
    setErrors([]);
    try {
      await call("POST", `/api/v1/accounts/${encodeURIComponent(a.id)}/${action}`);
      const name = a.display_name;
      // Chosen when shown, so that the notice follows a change of language.
      setDone(() => () => fill({ suspend: m.accountSuspended, reactivate: m.accountReactivated, approve: m.accountApproved }[action], { name }));
      await load();
    } catch (e) {
      setErrors([{ field: `account-${a.id}`, text: problemText(e) }]);
    } finally {
      setBusy(null);
    }
  };

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
              <th scope="col">{m.displayName}</th>
              <th scope="col">{m.accountsRole}</th>
              <th scope="col">{m.accountsStatus}</th>
              <th scope="col">
                <span class="visually-hidden">{m.actions}</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {shown.map((a) => (
              <tr key={a.id} id={`account-${a.id}`}>
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
                </td>
                <td class="actions">
                  {a.approved_at === null && (
                    <button type="button" class="button button-secondary" disabled={busy !== null} aria-label={fill(m.approveLabel, { name: a.display_name })} onClick={() => act(a, "approve")}>
                      {m.approve}
                    </button>
                  )}
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
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

export function Invite() {
  const [role, setRole] = useState("");
  const [email, setEmail] = useState("");
  const [authority, setAuthority] = useState("");
  const [kind, setKind] = useState("");
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
        <Button busy={busy}>{m.inviteSend}</Button>
      </Form>
      <p>
        <a href="#/accounts">{m.backToAccounts}</a>
      </p>
    </>
  );
}
