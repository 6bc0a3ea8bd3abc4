// Checks that a page shows only text from the message catalogue of its language: every text
// node and every label-like attribute must be a whole catalogue message (its values filled
// in), unless it is data the page shows as it is: inside `translate="no"` (names, emails,
// authority names, what users wrote), `<code>`, `<time>` or `<kbd>`, or with no letters at all.

import { readFileSync } from "node:fs";

export const catalogues = Object.fromEntries(
  ["en", "cy"].map((lang) => [lang, JSON.parse(readFileSync(new URL(`../messages/${lang}.json`, import.meta.url), "utf8"))]),
);

function flatten(o, out = []) {
  for (const v of Object.values(o)) typeof v === "string" ? out.push(v) : flatten(v, out);
  return out;
}

const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/// A message as a pattern: its literal text, each simple `{value}` standing for any text,
/// and a plural's or select's choices each as its own pattern (`#` for any number), so that a
/// message made only of choices does not stand for any text at all. An ICU quote ('{') is not
/// expected in these catalogues.
function source(message, inPlural = false) {
  let re = "";
  let literal = "";
  for (let i = 0; i < message.length; i++) {
    const ch = message[i];
    if (ch === "#" && inPlural) {
      re += escape(literal) + "[\\s\\S]*?";
      literal = "";
    } else if (ch === "{") {
      let depth = 1;
      let j = i + 1;
      for (; j < message.length && depth > 0; j++) depth += message[j] === "{" ? 1 : message[j] === "}" ? -1 : 0;
      const inner = message.slice(i + 1, j - 1);
      const parts = inner.match(/^\s*\w+\s*,\s*(plural|select|selectordinal)\s*,([\s\S]*)$/);
      re += escape(literal);
      literal = "";
      if (parts) {
        const choices = [];
        const branches = /[=\w]+\s*\{/g;
        let at = 0;
        const body = parts[2];
        while ((branches.lastIndex = at), branches.exec(body)) {
          let d = 1;
          let k = branches.lastIndex;
          const from = k;
          for (; k < body.length && d > 0; k++) d += body[k] === "{" ? 1 : body[k] === "}" ? -1 : 0;
          choices.push(source(body.slice(from, k - 1), parts[1] !== "select"));
          at = k;
        }
        re += `(?:${choices.join("|")})`;
      } else re += "[\\s\\S]*?";
      i = j - 1;
    } else literal += ch;
  }
  return re + escape(literal);
}

function pattern(message) {
  return new RegExp(`^${source(message)}$`, "u");
}

const compiled = Object.fromEntries(Object.entries(catalogues).map(([lang, c]) => [lang, flatten(c).map((s) => pattern(s.trim()))]));

/// The texts a page shows that no message of `lang` accounts for.
export async function strangers(page, lang) {
  const shown = await page.evaluate(() => {
    const out = [];
    const skip = (el) => el?.closest?.('[translate="no"], code, time, kbd, script, style, noscript');
    const walker = document.createTreeWalker(document.getElementById("app") ?? document.body, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      if (!skip(n.parentElement)) out.push(n.textContent);
    }
    for (const el of (document.getElementById("app") ?? document.body).querySelectorAll("[aria-label], [alt], [title], [placeholder]")) {
      if (skip(el)) continue;
      for (const a of ["aria-label", "alt", "title", "placeholder"]) if (el.hasAttribute(a)) out.push(el.getAttribute(a));
    }
    out.push(document.title);
    return out;
  });
  const unknown = new Set();
  for (const raw of shown) {
    const text = raw.replace(/\s+/g, " ").trim();
    if (!/\p{L}/u.test(text)) continue;
    if (!compiled[lang].some((re) => re.test(text))) unknown.add(text);
  }
  return [...unknown];
}

const axeSource = readFileSync(new URL("../node_modules/axe-core/axe.min.js", import.meta.url), "utf8");

async function axe(page) {
  if (!(await page.evaluate(() => "axe" in window))) await page.evaluate(axeSource);
  const result = await page.evaluate(async () => {
    const r = await window.axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"] } });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(" ")).slice(0, 3) }));
  });
  return result.filter((v) => v.impact === "serious" || v.impact === "critical");
}

/// The page as it is, in English and then in Welsh (switched with the header's link, as a
/// user would, and switched back): axe-core finds no serious or critical violation, every
/// text is from that language's catalogue, and `lang` says which language it is.
/// `screenshot(path)` is called with a name for each language when given.
export async function auditBothLanguages(page, label, check, screenshot) {
  await page.waitForLoadState("networkidle");
  const start = await page.evaluate(() => document.documentElement.lang);
  const order = start === "cy" ? ["cy", "en"] : ["en", "cy"];
  for (const [i, lang] of order.entries()) {
    if (i > 0) {
      await page.getByRole("button", { name: lang === "cy" ? "Cymraeg" : "English", exact: true }).click();
      await page.waitForFunction((l) => document.documentElement.lang === l, lang);
    }
    const serious = await axe(page);
    check(serious.length === 0, `axe: no serious or critical violation on "${label}" (${lang})${serious.length ? ` ${JSON.stringify(serious)}` : ""}`);
    const unknown = await strangers(page, lang);
    check(unknown.length === 0, `every text on "${label}" (${lang}) is in the ${lang} catalogue${unknown.length ? `: ${JSON.stringify(unknown.slice(0, 8))}` : ""}`);
    if (screenshot) await screenshot(lang);
  }
  await page.getByRole("button", { name: start === "cy" ? "Cymraeg" : "English", exact: true }).click();
  await page.waitForFunction((l) => document.documentElement.lang === l, start);
}
