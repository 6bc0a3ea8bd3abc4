// The few building blocks every page uses, after the GOV.UK Design System's patterns: one
// thing per page, an error summary at the top that links to each field, labels and hints
// tied to their inputs.

import type { ComponentChildren } from "preact";
import { useEffect, useRef } from "preact/hooks";
import { fill, language, m, type Language } from "./messages";

export interface FieldError {
  field: string;
  text: string;
}

/// Marks data shown as it is (names, emails, what a user wrote): translation tools and the
/// catalogue check leave it alone. `false` sets the DOM property, which writes
/// `translate="no"`.
export const asData = { translate: false };

/// Text that follows the page's language: a message, or how to make it again (a notice
/// set before the language was switched is then shown in the new one).
export type Text = string | (() => string);

export function say(t: Text): string {
  return typeof t === "function" ? t() : t;
}

/// Errors are written in the language of the moment they were found; after a switch they
/// are not shown (the next check writes them in the new language) rather than shown in the
/// other language.
const errorsLanguage = new WeakMap<FieldError[], Language>();
function current(errors: FieldError[]): FieldError[] {
  const lang = errorsLanguage.get(errors);
  if (lang === undefined) errorsLanguage.set(errors, language());
  return lang === undefined || lang === language() ? errors : [];
}

export function focusField(id: string) {
  const el = document.getElementById(id);
  if (el) {
    el.scrollIntoView({ block: "center" });
    el.focus();
  }
}

export function ErrorSummary({ errors: all }: { errors: FieldError[] }) {
  const errors = current(all);
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (errors.length) ref.current?.focus();
  }, [errors]);
  if (!errors.length) return null;
  return (
    <div class="error-summary" role="alert" tabIndex={-1} ref={ref} aria-labelledby="error-summary-title">
      <h2 id="error-summary-title">{m.errorSummary}</h2>
      <ul>
        {errors.map((e) => (
          <li key={e.field + e.text}>
            <a
              href={`#${e.field}`}
              onClick={(ev) => {
                // The page's own address is after '#': follow the link by focusing instead.
                ev.preventDefault();
                focusField(e.field);
              }}
            >
              {e.text}
            </a>
          </li>
        ))}
      </ul>
    </div>
  );
}

export function errorFor(errors: FieldError[], field: string): string | undefined {
  return current(errors).find((e) => e.field === field)?.text;
}

interface InputProps {
  id: string;
  label: string;
  hint?: string;
  error?: string;
  value: string;
  onInput: (v: string) => void;
  type?: "text" | "password" | "email";
  autocomplete?: string;
  inputMode?: "numeric" | "text" | "email";
  width?: "short" | "full";
}

/// A field's label, hint and error, tied to the input by ids (`described(p)` gives the input
/// its `aria-describedby`).
function LabelHintError(p: { id: string; label: string; hint?: string; error?: string }) {
  return (
    <>
      <label for={p.id}>{p.label}</label>
      {p.hint && (
        <p class="hint" id={`${p.id}-hint`}>
          {p.hint}
        </p>
      )}
      {p.error && (
        <p class="error-message" id={`${p.id}-error`}>
          <span class="visually-hidden">{m.errorPrefix} </span>
          {p.error}
        </p>
      )}
    </>
  );
}

function described(p: { id: string; hint?: string; error?: string }): string | undefined {
  return [p.hint ? `${p.id}-hint` : "", p.error ? `${p.id}-error` : ""].filter(Boolean).join(" ") || undefined;
}

export function TextInput(p: InputProps) {
  return (
    <div class={p.error ? "field field-error" : "field"}>
      <LabelHintError {...p} />
      <input
        id={p.id}
        name={p.id}
        class={p.width === "short" ? "input input-short" : "input"}
        type={(p.type ?? "text") as "text"}
        value={p.value}
        autoComplete={p.autocomplete ?? "off"}
        inputMode={p.inputMode}
        spellcheck={false}
        aria-describedby={described(p)}
        aria-invalid={p.error ? true : undefined}
        onInput={(e) => p.onInput((e.target as HTMLInputElement).value)}
      />
    </div>
  );
}

export function TextArea(p: InputProps & { rows?: number }) {
  return (
    <div class={p.error ? "field field-error" : "field"}>
      <LabelHintError {...p} />
      <textarea
        id={p.id}
        name={p.id}
        class="textarea"
        rows={p.rows ?? 8}
        value={p.value}
        aria-describedby={described(p)}
        aria-invalid={p.error ? true : undefined}
        onInput={(e) => p.onInput((e.target as HTMLTextAreaElement).value)}
      />
    </div>
  );
}

/// A drop-down list with its label and error, like the other fields; `children` are its
/// `<option>`s (or `<optgroup>`s).
export function Select(p: { id: string; label: string; error?: string; value: string; onChange: (v: string) => void; width?: "short" | "full"; children: ComponentChildren }) {
  return (
    <div class={p.error ? "field field-error" : "field"}>
      <LabelHintError {...p} />
      <select
        id={p.id}
        name={p.id}
        class={p.width === "short" ? "input input-short" : "input"}
        value={p.value}
        aria-describedby={described(p)}
        aria-invalid={p.error ? true : undefined}
        onChange={(e) => p.onChange((e.target as HTMLSelectElement).value)}
      >
        {p.children}
      </select>
    </div>
  );
}

export interface Option {
  value: string;
  label: string;
  hint?: string;
  /// The label is data (a person's name), not a message.
  data?: boolean;
}

export function Radios(p: {
  id: string;
  legend: string;
  hint?: string;
  error?: string;
  options: Option[];
  value: string;
  onChange: (v: string) => void;
}) {
  return (
    <div class={p.error ? "field field-error" : "field"}>
      <fieldset aria-describedby={p.hint ? `${p.id}-hint` : undefined}>
        <legend>{p.legend}</legend>
        {p.hint && (
          <p class="hint" id={`${p.id}-hint`}>
            {p.hint}
          </p>
        )}
        {p.error && (
          <p class="error-message" id={`${p.id}-error`}>
            <span class="visually-hidden">{m.errorPrefix} </span>
            {p.error}
          </p>
        )}
        <div class="radios">
          {p.options.map((o, i) => {
            // The first option carries the field's id, so the error summary can reach it.
            const id = i === 0 ? p.id : `${p.id}-${o.value}`;
            return (
              <div class="radio" key={o.value}>
                <input
                  type="radio"
                  id={id}
                  name={p.id}
                  value={o.value}
                  checked={p.value === o.value}
                  aria-describedby={o.hint ? `${id}-hint` : undefined}
                  onChange={() => p.onChange(o.value)}
                />
                <label for={id} {...(o.data ? asData : {})}>
                  {o.label}
                </label>
                {o.hint && (
                  <p class="hint radio-hint" id={`${id}-hint`}>
                    {o.hint}
                  </p>
                )}
              </div>
            );
          })}
        </div>
      </fieldset>
    </div>
  );
}

export function Button(p: { children: ComponentChildren; busy?: boolean; kind?: "primary" | "secondary" | "warning"; onClick?: () => void; type?: "submit" | "button" }) {
  return (
    <button
      type={p.type ?? "submit"}
      class={`button button-${p.kind ?? "primary"}`}
      disabled={p.busy}
      aria-disabled={p.busy ? true : undefined}
      onClick={p.onClick}
    >
      {p.busy ? m.working : p.children}
    </button>
  );
}

export function Notice({ children, success }: { children: ComponentChildren; success?: boolean }) {
  return (
    <div class={success ? "notice notice-success" : "notice"} role="status">
      {children}
    </div>
  );
}

/// A form whose submit runs `onSubmit` without leaving the page.
export function Form({ onSubmit, children }: { onSubmit: () => void; children: ComponentChildren }) {
  return (
    <form
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        onSubmit();
      }}
    >
      {children}
    </form>
  );
}

/// "3 December 2026", "3 Rhagfyr 2026": written from the catalogue, since browsers do not
/// all carry Welsh month names.
export function dateText(iso: string | Date): string {
  const d = typeof iso === "string" ? new Date(iso) : iso;
  if (isNaN(d.getTime())) return String(iso);
  return `${d.getDate()} ${m.months[String(d.getMonth() + 1)]} ${d.getFullYear()}`;
}

export function timeText(d: Date): string {
  return `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
}

export function dateTimeText(iso: string | Date): string {
  const d = typeof iso === "string" ? new Date(iso) : iso;
  return fill(m.dateTime, { date: dateText(d), time: timeText(d) });
}

/// A date as data, for machines in `datetime` and for people in the page's language.
export function When({ at, time }: { at: string | Date; time?: boolean }) {
  const d = typeof at === "string" ? new Date(at) : at;
  return <time dateTime={isNaN(d.getTime()) ? undefined : d.toISOString()}>{time ? dateTimeText(d) : dateText(d)}</time>;
}
