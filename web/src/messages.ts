// Every string the application shows comes from a message catalogue: `messages/en.json` and
// `messages/cy.json`, ICU MessageFormat (`{name}` marks where a value goes; plurals as
// `{count, plural, …}`), formatted by FormatJS's intl-messageformat. Welsh is a language
// here, not a second copy of the pages.

import { IntlMessageFormat } from "intl-messageformat";
import en from "../messages/en.json";
import cy from "../messages/cy.json";

/// Vocabularies (by their API code) are tables of messages; everything else is one message.
type Catalogue<T> = { [K in keyof T]: T[K] extends string ? string : Record<string, string> };
export type Messages = Catalogue<typeof en>;
export type Language = "en" | "cy";

const catalogues: Record<Language, Messages> = { en, cy };
const STORED = "iro-advice-language";

/// The language chosen on this device with the switch, if any.
export function chosenLanguage(): Language | null {
  try {
    const chosen = localStorage.getItem(STORED);
    if (chosen === "en" || chosen === "cy") return chosen;
  } catch {
    // storage refused (private mode): no choice kept
  }
  return null;
}

/// The language a new page starts in: the one chosen on this device, then the browser's
/// (a signed-in account's choice follows, in main.tsx).
function preferred(): Language {
  const chosen = chosenLanguage();
  if (chosen) return chosen;
  for (const l of navigator.languages ?? [navigator.language]) {
    const base = l.toLowerCase().split("-")[0];
    if (base === "cy") return "cy";
    if (base === "en") return "en";
  }
  return "en";
}

let current: Language = "en";
/// The catalogue of the current language, with every message that takes no value already
/// formatted (so `m.signIn` is text, and `fill(m.openQueries, {count})` formats the rest).
export let m: Messages = en;
const formats = new Map<string, IntlMessageFormat>();

function formatted<T>(messages: T, lang: Language): T {
  if (typeof messages === "string") {
    const f = new IntlMessageFormat(messages, lang);
    const ast = f.getAst();
    // Type 0 is the parser's literal text: a message of literals alone takes no value.
    const plain = ast.every((el) => el.type === 0);
    return (plain ? String(f.format()) : messages) as T;
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(messages as Record<string, unknown>)) out[k] = formatted(v, lang);
  return out as T;
}

export function language(): Language {
  return current;
}

/// Switches the catalogue and the document's language (so that screen readers pronounce it
/// right); `remember` keeps the choice on this device.
export function setLanguage(lang: Language, remember = false): void {
  current = lang;
  m = formatted(catalogues[lang], lang);
  document.documentElement.lang = lang;
  document.title = m.service;
  if (remember) {
    try {
      localStorage.setItem(STORED, lang);
    } catch {
      // not kept: the choice lasts until the page is reloaded
    }
  }
}

setLanguage(preferred());

/// Puts values into a message: `fill(m.openQueries, {count: 3})`.
export function fill(pattern: string, values: Record<string, string | number>): string {
  const key = `${current}\u0000${pattern}`;
  let f = formats.get(key);
  if (!f) {
    f = new IntlMessageFormat(pattern, current);
    formats.set(key, f);
  }
  return String(f.format(values));
}

/// The locale dates and times are written in.
export function locale(): string {
  return current === "cy" ? "cy-GB" : "en-GB";
}
