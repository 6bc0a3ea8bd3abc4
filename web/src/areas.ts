// Area names in the page's language: the Welsh authorities by their Welsh names (from the
// service's reference list), regions and "other authorities" rows from the catalogue. The
// releases themselves name areas in English; only what is shown changes.

import { call, type Authority } from "./api";
import { fill, language, m } from "./messages";

let welsh = new Map<string, string>();
let loading: Promise<Authority[]> | null = null;

/// Every authority, read once per page.
export function authorities(): Promise<Authority[]> {
  loading ??= call<Authority[]>("GET", "/api/v1/authorities").then(
    (list) => {
      welsh = new Map(list.filter((a) => a.name_cy).map((a) => [a.code, a.name_cy as string]));
      return list;
    },
    (e) => {
      loading = null;
      throw e;
    },
  );
  return loading;
}

export function authorityName(a: { code: string; name: string; name_cy?: string | null }): string {
  return (language() === "cy" && (a.name_cy ?? welsh.get(a.code))) || a.name;
}

export function regionName(region: string): string {
  return m.regions[region] ?? region;
}

/// A release's row: an authority (by code), a region, or a region's other authorities.
export function areaName(a: { code?: string | null; name: string }): string {
  if (a.code) return authorityName({ code: a.code, name: a.name });
  const other = /^Other authorities in (.+)$/.exec(a.name);
  if (other) return fill(m.otherAuthorities, { region: regionName(other[1]) });
  return regionName(a.name);
}
