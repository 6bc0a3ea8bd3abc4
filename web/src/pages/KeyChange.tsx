import { useEffect, useState } from "preact/hooks";
import { fingerprint } from "../crypto";
import { IdentityChanged, KeyChanged, KeyRefused } from "../log";
import { fill, m } from "../messages";
import { asData, type FieldError } from "../ui";

/// What a refused or changed key means for a form: the error to show, and a change to
/// confirm; null when `e` is about something else.
export function keyRefusal(e: unknown, name: string, field: string): { error: FieldError; change: KeyChanged | null } | null {
  if (e instanceof KeyChanged) return { error: { field: "accept-key-change", text: fill(e instanceof IdentityChanged ? m.identityChangedTitle : m.keyChangedTitle, { name }) }, change: e };
  if (e instanceof KeyRefused) return { error: { field, text: fill(m.keyRefused, { why: e.message }) }, change: null };
  return null;
}

/// What the page shows when a correspondent's key changed: both fingerprints, what to do,
/// and an explicit confirmation (unchecked) before anything is encrypted to the new key.
export function KeyChangeWarning(p: { change: KeyChanged; name: string; accepted: boolean; setAccepted: (v: boolean) => void }) {
  const [prints, setPrints] = useState<[string, string] | null>(null);
  useEffect(() => {
    Promise.all([fingerprint(p.change.was), fingerprint(p.change.now)]).then(([a, b]) => setPrints([a, b]));
  }, [p.change]);
  return (
    <div class="warning-panel" role="alert" id="key-changed">
      <h2>{fill(p.change instanceof IdentityChanged ? m.identityChangedTitle : m.keyChangedTitle, { name: p.name })}</h2>
      <p>{fill(p.change instanceof IdentityChanged ? m.identityChanged : m.keyChanged, { name: p.name })}</p>
      {prints && (
        <dl class="summary">
          <dt>{m.keyWas}</dt>
          <dd class="secret" {...asData}>{prints[0]}</dd>
          <dt>{m.keyNow}</dt>
          <dd class="secret" {...asData}>{prints[1]}</dd>
        </dl>
      )}
      {!(p.change instanceof IdentityChanged) && (
        <p id="key-handover">{fill(p.change.handedOver ? m.keyHandedOver : m.keyNotHandedOver, { name: p.name })}</p>
      )}
      <p>{fill(m.keyChangedCheck, { name: p.name })}</p>
      <div class="field checkbox">
        <input id="accept-key-change" type="checkbox" checked={p.accepted} onChange={(e) => p.setAccepted((e.target as HTMLInputElement).checked)} />
        <label for="accept-key-change">{fill(m.keyChangedAccept, { name: p.name })}</label>
      </div>
    </div>
  );
}
