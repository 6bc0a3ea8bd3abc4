import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { call, onSessionEnded, renew, signOut as endSession, type Me } from "./api";
import { SessionContext, nextStep, watchLog, type Session } from "./app";
import { forget, identity } from "./crypto";
import { LogRewritten } from "./log";
import { chosenLanguage, language, m, setLanguage, type Language } from "./messages";
import { Account } from "./pages/Account";
import { Accounts, Invite } from "./pages/Accounts";
import { SharedReports } from "./pages/SharedReports";
import { Statistics } from "./pages/Statistics";
import { AnnualReport } from "./pages/AnnualReport";
import { LogHealth } from "./pages/LogHealth";
import { Operations } from "./pages/Operations";
import { Alarm } from "./pages/Alarm";
import { Receipts } from "./pages/Receipts";
import { Ask } from "./pages/Ask";
import { Inbox } from "./pages/Inbox";
import { Open } from "./pages/Open";
import { Pressure } from "./pages/Pressure";
import { SetUpFactor, SetUpKey } from "./pages/SetUp";
import { SignIn } from "./pages/SignIn";
import { Thread } from "./pages/Thread";
import { Unlock } from "./pages/Unlock";
import type { Text } from "./ui";

/// Fifteen minutes without a key press, click or touch forget the key and sign out; a
/// warning shows two minutes before.
const IDLE_MS = 15 * 60 * 1000;
const WARN_MS = 13 * 60 * 1000;

/// The route, re-rendered on every navigation: `go` to the route already shown (unlocking
/// on the inbox's own address, after a reload) must still draw the page the route means now.
function useRoute(): string {
  const [route, setRoute] = useState({ hash: location.hash, n: 0 });
  useEffect(() => {
    const on = () => setRoute((r) => ({ hash: location.hash, n: r.n + 1 }));
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);
  return route.hash;
}

function App() {
  const hash = useRoute();
  const [me, setMe] = useState<Me | null>(null);
  const [notice, setNotice] = useState<Text | null>(null);
  const [idleWarning, setIdleWarning] = useState(false);
  // Changing the language re-renders every page from the other catalogue.
  const [lang, setLang] = useState(language());
  const [alarm, setAlarm] = useState<LogRewritten | null>(null);
  // A reload continues the session from its cookie (the key itself must be unlocked again).
  const [resuming, setResuming] = useState(location.pathname !== "/open");

  const session: Session = {
    me,
    setMe,
    notice,
    // A notice may be a function (to follow the language): keep it, do not call it.
    setNotice: (text) => setNotice(() => text),
    go: (route) => {
      if (location.pathname !== "/") history.replaceState(null, "", "/");
      if (location.hash === route) dispatchEvent(new HashChangeEvent("hashchange"));
      else location.hash = route;
    },
    signOut: async (why) => {
      forget();
      await endSession();
      setMe(null);
      setNotice(() => why ?? (() => m.signedOut));
      session.go("#/sign-in");
    },
    alarm: (e) => {
      forget();
      setAlarm(e);
    },
  };

  onSessionEnded(() => {
    forget();
    setMe(null);
    setNotice(() => () => m.sessionEndedElsewhere);
    session.go("#/sign-in");
  });

  useEffect(() => {
    if (!resuming) return;
    (async () => {
      if (await renew()) {
        const found = await call<Me>("GET", "/api/v1/me");
        if (await watchLog(session)) setMe(found);
      }
    })()
      .catch(() => undefined)
      .finally(() => setResuming(false));
  }, []);

  useEffect(() => {
    if (!me) return;
    let last = Date.now();
    const touch = () => {
      last = Date.now();
      setIdleWarning(false);
    };
    const events = ["keydown", "pointerdown", "touchstart"];
    events.forEach((e) => addEventListener(e, touch, { passive: true }));
    const timer = setInterval(() => {
      const idle = Date.now() - last;
      if (idle >= IDLE_MS) session.signOut(() => m.signedOutIdle);
      else setIdleWarning(idle >= WARN_MS);
    }, 15_000);
    return () => {
      clearInterval(timer);
      events.forEach((e) => removeEventListener(e, touch));
    };
  }, [me?.id]);

  // The language of a signed-in account: a choice made on this device wins (and becomes the
  // account's); otherwise the page follows the account's choice.
  useEffect(() => {
    if (!me) return;
    const here = chosenLanguage();
    if (here && here !== me.language) call("PUT", "/api/v1/me/language", { language: here }).catch(() => undefined);
    else if (!here && me.language !== language()) {
      setLanguage(me.language as Language);
      setLang(me.language as Language);
    }
  }, [me?.id]);

  // Move focus to the new page's heading, so a screen reader announces where it is.
  useEffect(() => {
    const h1 = document.querySelector("h1");
    if (h1) {
      h1.setAttribute("tabindex", "-1");
      h1.focus();
    }
  }, [hash]);

  let page;
  const path = hash.replace(/^#/, "") || "/";
  if (alarm) page = <Alarm alarm={alarm} />;
  else if (resuming) page = <p role="status">{m.loading}</p>;
  else if (location.pathname === "/open") page = <Open />;
  else if (!me) page = <SignIn />;
  else {
    const required = nextStep(me, identity() !== null);
    const step = required && path !== required.slice(1) ? required.slice(1) : path;
    if (step === "/set-up/factor") page = <SetUpFactor />;
    else if (step === "/set-up/key") page = <SetUpKey />;
    else if (step === "/unlock") page = <Unlock />;
    else if (step === "/ask" && me.role === "iro") page = <Ask />;
    else if (step === "/pressure" && me.role === "iro") page = <Pressure />;
    else if (step === "/account") page = <Account />;
    else if (step === "/receipts") page = <Receipts />;
    else if (step.startsWith("/queries/")) page = <Thread id={step.slice("/queries/".length)} />;
    else if (me.role === "nairo" || me.role === "admin") {
      // NAIRO and administrators have no queries: their consoles are their home pages.
      if (step === "/shared-reports" && me.role === "nairo") page = <SharedReports />;
      else if (step === "/annual-report") page = <AnnualReport />;
      else if (step === "/log" && me.role === "nairo") page = <LogHealth />;
      else if (step === "/invite" && me.role === "admin") page = <Invite />;
      else if (step === "/operations" && me.role === "admin") page = <Operations />;
      else if (step === "/statistics" || me.role === "nairo") page = <Statistics />;
      else page = <Accounts />;
    } else page = <Inbox />;
  }

  return (
    <SessionContext.Provider value={session}>
      <a class="skip-link" href="#main" onClick={(e) => { e.preventDefault(); document.getElementById("main")?.focus(); }}>
        {m.skip}
      </a>
      <header class="header">
        <div class="header-inner">
          <a class="header-service" href="#/">
            {m.service}
          </a>
          <div class="header-tools">
            {me && (
              <nav aria-label={m.accountNav}>
                {me.role === "nairo" && (
                  <>
                    <a class="header-link" href="#/statistics">
                      {m.navStatistics}
                    </a>
                    <a class="header-link" href="#/annual-report">
                      {m.navReport}
                    </a>
                    <a class="header-link" href="#/shared-reports">
                      {m.navShared}
                    </a>
                    <a class="header-link" href="#/log">
                      {m.navLog}
                    </a>
                  </>
                )}
                {me.role === "admin" && (
                  <>
                    <a class="header-link" href="#/accounts">
                      {m.navAccounts}
                    </a>
                    <a class="header-link" href="#/operations">
                      {m.navStatus}
                    </a>
                    <a class="header-link" href="#/statistics">
                      {m.navStatistics}
                    </a>
                  </>
                )}
                <a class="header-link" href="#/receipts">
                  {m.receipts}
                </a>
                <a class="header-link" href="#/account">
                  {m.account}
                </a>
                <button type="button" class="header-link" onClick={() => session.signOut()}>
                  {m.signOut}
                </button>
              </nav>
            )}
            <button
              type="button"
              class="header-link"
              lang={lang === "en" ? "cy" : "en"}
              onClick={() => {
                const other = lang === "en" ? "cy" : "en";
                setLanguage(other, true);
                setLang(other);
                // Signed in, the choice is the account's too: its notices follow it.
                if (me) call("PUT", "/api/v1/me/language", { language: other }).catch(() => undefined);
              }}
            >
              {m.switchLanguage}
            </button>
          </div>
        </div>
      </header>
      <main id="main" class="main" tabIndex={-1}>
        {idleWarning && (
          <div class="notice notice-warning" role="alert">
            {m.idleWarning}
          </div>
        )}
        {page}
      </main>
    </SessionContext.Provider>
  );
}

const root = document.getElementById("app");
if (root) {
  root.textContent = "";
  render(<App />, root);
}
