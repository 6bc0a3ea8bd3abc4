// The possible-child-name check, as the command-line client does it: capitalised pairs
// ("Jane Smith", "Jayden Smith's").

function bare(w: string): string {
  const t = w.replace(/^[^\p{L}\p{N}]+|[^\p{L}\p{N}]+$/gu, "");
  for (const suffix of ["'s", "\u2019s", "s'", "s\u2019"]) {
    if (t.endsWith(suffix)) return t.slice(0, -suffix.length);
  }
  return t;
}

function capitalised(w: string): boolean {
  const b = bare(w);
  const chars = Array.from(b);
  return chars.length > 1 && /\p{Lu}/u.test(chars[0]) && chars.slice(1).every((c) => /\p{Ll}/u.test(c));
}

export function looksLikeNames(text: string): string[] {
  const words = text.split(/\s+/).filter((w) => w.length > 0);
  const found = new Set<string>();
  for (let i = 0; i + 1 < words.length; i++) {
    if (capitalised(words[i]) && capitalised(words[i + 1])) found.add(`${bare(words[i])} ${bare(words[i + 1])}`);
  }
  return [...found].sort();
}
