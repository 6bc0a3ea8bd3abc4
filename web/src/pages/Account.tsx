import { useEffect, useMemo, useState } from "preact/hooks";
import { call, Problem, type Me } from "../api";
import { useSession } from "../app";
import { fingerprint } from "../crypto";
import { fill, m } from "../messages";
import { Button, ErrorSummary, Form, Notice, Radios, TextInput, type FieldError } from "../ui";

interface Authority {
  code: string;
  name: string;
  region: string;
}

/// The account's key fingerprint; for an adviser, availability and conflicts.
export function Account() {
  const s = useSession();
  const me = s.me;
  const [print, setPrint] = useState("");
  const [errors, setErrors] = useState<FieldError[]>([]);
  const [saved, setSaved] = useState<string | null>(null);

  useEffect(() => {
    if (me?.age_recipient) fingerprint(me.age_recipient).then(setPrint);
  }, [me?.age_recipient]);

  if (!me) return null;
  const refresh = async (text: string) => {
    s.setMe(await call<Me>("GET", "/api/v1/me"));
    setSaved(text);
  };
  return (
    <>
      <ErrorSummary errors={errors} />
      {saved && <Notice success>{saved}</Notice>}
      <h1>{m.accountTitle}</h1>
      <dl class="summary">
        <dt>{m.displayName}</dt>
        <dd>{me.display_name}</dd>
        <dt>{m.email}</dt>
        <dd>{me.email}</dd>
      </dl>
      <h2 class="small-heading">{m.fingerprint}</h2>
      <p class="hint">{m.fingerprintHint}</p>
      <p class="secret" id="own-fingerprint">
        {print}
      </p>
      {me.role === "adviser" && (
        <>
          <Availability me={me} onSaved={refresh} onError={setErrors} />
          <Conflicts me={me} onSaved={refresh} onError={setErrors} />
        </>
      )}
    </>
  );
}

interface Part {
  me: Me;
  onSaved: (text: string) => Promise<void>;
  onError: (e: FieldError[]) => void;
}

function Availability({ me, onSaved, onError }: Part) {
  const [value, setValue] = useState(me.accepting === false ? "no" : "yes");
  const [busy, setBusy] = useState(false);
  const submit = async () => {
    setBusy(true);
    try {
      await call("PUT", "/api/v1/me/availability", { accepting: value === "yes" });
      await onSaved(fill(m.availabilitySaved, { state: value === "yes" ? m.availabilityYes : m.availabilityNo }));
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
    call<Authority[]>("GET", "/api/v1/authorities").then(setAll);
  }, []);
  const regions = useMemo(() => {
    const wanted = filter.trim().toLowerCase();
    const byRegion = new Map<string, Authority[]>();
    for (const a of all) {
      if (wanted && !a.name.toLowerCase().includes(wanted) && !a.region.toLowerCase().includes(wanted) && !chosen.has(a.code)) continue;
      byRegion.set(a.region, [...(byRegion.get(a.region) ?? []), a]);
    }
    for (const list of byRegion.values()) list.sort((x, y) => x.name.localeCompare(y.name));
    return [...byRegion.entries()].sort(([x], [y]) => x.localeCompare(y));
  }, [all, filter, chosen]);
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
      await onSaved(fill(m.conflictsSaved, { count: chosen.size }));
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
              <legend>{region}</legend>
              {list.map((a) => (
                <div class="field checkbox" key={a.code}>
                  <input id={`conflict-${a.code}`} type="checkbox" checked={chosen.has(a.code)} onChange={(e) => toggle(a.code, (e.target as HTMLInputElement).checked)} />
                  <label for={`conflict-${a.code}`}>{a.name}</label>
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
