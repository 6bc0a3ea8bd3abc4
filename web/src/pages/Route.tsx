import { useEffect, useState } from "preact/hooks";
import { call, Problem, type AdviserEntry, type QueryDetail } from "../api";
import { useSession } from "../app";
import { reencrypt } from "../attachments";
import { decryptText, encryptText, identity, recipientOf } from "../crypto";
import { KeyChanged, LogRewritten, verifiedRecipient } from "../log";
import { fill, m } from "../messages";
import { Button, ErrorSummary, Form, Radios, dateText, errorFor, type FieldError } from "../ui";
import { KeyChangeWarning, keyRefusal } from "./KeyChange";

/// After a decline, or a wait past the reminder time: the IRO hands the query to another
/// adviser, with every message and attachment encrypted again here for them.
export function RouteQuery({ query, onDone }: { query: QueryDetail; onDone: () => void }) {
  const s = useSession();
  const [advisers, setAdvisers] = useState<AdviserEntry[] | null>(null);
  const [adviser, setAdviser] = useState("");
  const [change, setChange] = useState<KeyChanged | null>(null);
  const [accepted, setAccepted] = useState(false);
  const [errors, setErrors] = useState<FieldError[]>([]);
  const [busy, setBusy] = useState(false);
  const [progress, setProgress] = useState<string | null>(null);

  useEffect(() => {
    call<AdviserEntry[]>("GET", "/api/v1/advisers")
      .then((all) => setAdvisers(all.filter((a) => a.id !== query.adviser_id)))
      .catch((e) => setErrors([{ field: "route-adviser", text: e instanceof Problem ? e.plain : String(e) }]));
  }, [query.id]);

  const submit = async () => {
    const chosen = advisers?.find((a) => a.id === adviser);
    if (!chosen) {
      setErrors([{ field: "route-adviser", text: m.chooseAdviser }]);
      return;
    }
    const mine = identity();
    if (!mine || !s.me) return;
    setBusy(true);
    setErrors([]);
    try {
      const theirs = await verifiedRecipient(s.me.id, chosen.id, chosen.age_recipient, chosen.key_proof, accepted && change?.account === chosen.id, chosen.display_name);
      setChange(null);
      const to = [await recipientOf(mine), theirs];
      setProgress(fill(m.routing, { adviser: chosen.display_name }));
      // Attachments first: if routing then fails, they are still readable by the IRO.
      for (const a of query.attachments) await reencrypt(query.id, a, to, () => undefined);
      const messages = [];
      for (const msg of query.messages) {
        if (msg.body) messages.push({ id: msg.id, body: await encryptText(await decryptText(msg.body), to) });
      }
      await call("POST", `/api/v1/queries/${encodeURIComponent(query.id)}/route`, { adviser_id: chosen.id, messages });
      s.setNotice(() => fill(m.routed, { adviser: chosen.display_name }));
      onDone();
    } catch (e) {
      if (e instanceof LogRewritten) return s.alarm(e);
      const refusal = keyRefusal(e, chosen.display_name, "route-adviser");
      if (refusal) {
        setChange(refusal.change);
        setAccepted(false);
        setErrors([refusal.error]);
      } else setErrors([{ field: "route-adviser", text: e instanceof Problem ? e.plain : String(e) }]);
    } finally {
      setBusy(false);
      setProgress(null);
    }
  };

  return (
    <section aria-labelledby="route-heading" class="route">
      <h2 id="route-heading">{m.routeTitle}</h2>
      {query.status !== "declined" && <p>{m.routeWaiting}</p>}
      {query.status === "declined" && !query.declines?.length && <p>{m.routeDeclined}</p>}
      {query.declines?.map((d) => (
        <p key={`${d.adviser_name}-${d.declined_at}`} class="decline">
          {fill(m.routeDeclinedBy, { adviser: d.adviser_name, date: dateText(d.declined_at), reason: m.declineReasons[d.reason] ?? d.reason })}
        </p>
      ))}
      <p>{m.routeIntro}</p>
      <ErrorSummary errors={errors} />
      {advisers && advisers.length === 0 && <p>{m.noAdvisers}</p>}
      {advisers && advisers.length > 0 && (
        <Form onSubmit={submit}>
          <Radios
            id="route-adviser"
            legend={m.routeChoose}
            value={adviser}
            onChange={setAdviser}
            error={errorFor(errors, "route-adviser")}
            options={advisers.map((a) => ({ value: a.id, label: a.display_name, hint: fill(m.adviserOption, { kind: m.kinds[a.kind] ?? a.kind, count: a.open_queries, checked: a.verified ? "yes" : "no" }),
              data: true }))}
          />
          {change && <KeyChangeWarning change={change} name={advisers.find((a) => a.id === change.account)?.display_name ?? ""} accepted={accepted} setAccepted={setAccepted} />}
          {progress && (
            <p role="status" class="progress">
              {progress}
            </p>
          )}
          <Button busy={busy}>{m.routeSend}</Button>
        </Form>
      )}
    </section>
  );
}
