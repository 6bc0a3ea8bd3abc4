// The few building blocks every page uses, after the GOV.UK Design System's patterns: one
// thing per page, an error summary at the top that links to each field, labels and hints
// tied to their inputs.

import type { ComponentChildren } from "preact";
import { useEffect, useRef } from "preact/hooks";
import { m } from "./messages";

export interface FieldError {
  field: string;
  text: string;
}

export function focusField(id: string) {
  const el = document.getElementById(id);
  if (el) {
    el.scrollIntoView({ block: "center" });
    el.focus();
  }
}

export function ErrorSummary({ errors }: { errors: FieldError[] }) {
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
  return errors.find((e) => e.field === field)?.text;
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
          <span class="visually-hidden">Error: </span>
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

export interface Option {
  value: string;
  label: string;
  hint?: string;
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
            <span class="visually-hidden">Error: </span>
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
                <label for={id}>{o.label}</label>
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

export function dateText(iso: string): string {
  const d = new Date(iso);
  return isNaN(d.getTime()) ? iso : d.toLocaleDateString("en-GB", { day: "numeric", month: "long", year: "numeric" });
}
