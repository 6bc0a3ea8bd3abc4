// The application's shell: who is signed in, where the page is, and the idle timer.

import { createContext } from "preact";
import { useContext } from "preact/hooks";
import type { Me } from "./api";
import type { Text } from "./ui";
import { LogRewritten, checkLog } from "./log";

export interface Session {
  me: Me | null;
  setMe: (me: Me | null) => void;
  notice: Text | null;
  setNotice: (text: Text | null) => void;
  go: (route: string) => void;
  signOut: (why?: Text) => Promise<void>;
  /// Stops everything: the service's log was rewritten.
  alarm: (e: LogRewritten) => void;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error("no session");
  return s;
}

/// Where a signed-in account must go next, before anything else: a second factor, then a
/// key, then unlocking it on this page.
export function nextStep(me: Me, unlocked: boolean): string | null {
  if (!me.totp_enabled && !me.passkey_enabled) return "#/set-up/factor";
  if (!me.age_recipient) return "#/set-up/key";
  if (!unlocked) return "#/unlock";
  return null;
}

/// Checks the service's log against what this browser saw before; a rewrite raises the
/// alarm. A log with no witnessed checkpoint yet is checked again before anything is sent.
export async function watchLog(s: Session): Promise<boolean> {
  try {
    await checkLog();
  } catch (e) {
    if (e instanceof LogRewritten) {
      s.alarm(e);
      return false;
    }
  }
  return true;
}
