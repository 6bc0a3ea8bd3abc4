// End to end, as the users would: the real binary on loopback over HTTPS, its mail caught
// by an SMTP server here, and Debian's Chromium driven through playwright-core. An invited
// IRO and an invited solicitor, in two browser contexts, go from their emails through
// enrolment and key set-up; the IRO asks; the solicitor accepts, reads and replies; the IRO
// reads and closes. Every page is checked with axe-core; every request the browsers send is
// recorded and searched for the plaintext and for an unwrapped secret key; what the page
// encrypted is decrypted with the `age` tool and the downloaded recovery file.
//
// Usage: node tests/e2e.mjs BINARY [--screenshots DIR]

import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Encrypter, armor } from "age-encryption";
import { auditBothLanguages } from "./audit.mjs";
import { check, freshCode, invitationLink, launchBrowser, screenshot, sleep, tally, testService, totp } from "./harness.mjs";

const binary = resolve(process.argv[2] ?? "../target/debug/iro-advice");
const shotsAt = process.argv.indexOf("--screenshots");
const shots = shotsAt > 0 ? resolve(process.argv[shotsAt + 1]) : null;
// --bench also measures (and prints, never asserts): sign-in to inbox, and a 50 MiB
// attachment encrypted and sent by the page and by the command-line client.
const bench = process.argv.includes("--bench");
const measured = [];
const work = mkdtempSync(join(tmpdir(), "iro-advice-e2e-"));
const PASSWORD = "correct horse battery staple 42";
const PASSPHRASE = "lantern orchard pebble violet harbour";
const NEW_PASSWORD = "quiet meadow copper lantern 77";
const QUESTION =
  "The care plan for the 9-year-old has not been reviewed since March and the authority says no legal advice may be sought. What are my options?";
const MINUTES = "Minutes of the review, 12 November: the plan was not updated; placement move proposed without consultation.\n";
const NARRATIVE = "My manager told me that asking an outside solicitor would be a disciplinary matter.";
const REPLY = "Raise it formally first; you may seek independent advice under the IRO Handbook, paragraph 3.";

// --- the service ------------------------------------------------------------------------

// NAIRO's key, so that a pressure report can be shared and its narrative read by NAIRO.
const { nairoKey, smtp, url, env, cert, api, service, operator } = await testService(binary, work);
if (bench) env.IRO_ADVICE_MAX_ATTACHMENT_MB = "128";
const serviceLog = service.logFile;
const startService = () => service.start();
const stopService = () => service.stop();

await startService();

// --- the headers the application is served with -----------------------------------------

{
  const index = await api("GET", "/");
  const csp = index.headers["content-security-policy"] ?? "";
  check(index.status === 200 && index.headers["content-type"].startsWith("text/html"), "GET / serves the application");
  for (const d of ["script-src 'self'", "style-src 'self'", "connect-src 'self'", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'", "require-trusted-types-for 'script'"]) {
    check(csp.includes(d), `the application's CSP has ${d}`);
  }
  check(index.headers["cross-origin-opener-policy"] === "same-origin", "Cross-Origin-Opener-Policy: same-origin");
  check((index.headers["permissions-policy"] ?? "").includes("camera=()"), "Permissions-Policy denies the camera");
  const api404 = await api("GET", "/api/v1/nothing-here");
  check(api404.status === 404 && api404.headers["content-type"].includes("problem+json"), "an unknown API path is still a problem document");
}

// --- an administrator, through the API: invites the two users ----------------------------

const adminInvite = spawnSync(binary, ["admin", "invite", "--role", "admin", "--email", "admin@e2e.invalid"], { env, encoding: "utf8" });
if (adminInvite.status !== 0) throw new Error(adminInvite.stderr);
const adminToken = adminInvite.stdout.trim().split("\n").pop();
await api("POST", "/api/v1/accounts", { invitation: adminToken, password: PASSWORD, display_name: "E2E Admin" });
let admin = (await api("POST", "/api/v1/auth/login", { email: "admin@e2e.invalid", password: PASSWORD })).json.access_token;
const enrolment = (await api("POST", "/api/v1/me/totp", undefined, admin)).json;
await api("POST", "/api/v1/me/totp/confirm", { code: await freshCode(enrolment.secret) }, admin);

async function invite(body) {
  const res = await api("POST", "/api/v1/invitations", body, admin);
  if (res.status !== 201) throw new Error(`invitation: ${res.status} ${res.text}`);
  return { link: await invitationLink(body.email), code: res.json.code };
}
const iroInvite = await invite({ role: "iro", email: "sam.iro@e2e.invalid", authority_code: "E06000019" });
const solicitorInvite = await invite({ role: "adviser", email: "alex.solicitor@e2e.invalid", adviser_kind: "solicitor" });
const peerInvite = await invite({ role: "adviser", email: "robin.peer@e2e.invalid", adviser_kind: "peer", authority_code: "E09000033" });
check(iroInvite.link.startsWith(`${url}/open#`), "the invitation email links to /open#token");

// --- the browsers ------------------------------------------------------------------------

const browser = await launchBrowser();
const sent = [];
const pageErrors = [];
const tokenAnswers = [];
const inflight = new Set();

async function newUser(name) {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, acceptDownloads: true });
  context.on("request", (r) => sent.push({ who: name, url: r.url(), headers: JSON.stringify(r.headers()), body: r.postDataBuffer() }));
  context.on("request", (r) => inflight.add(r));
  context.on("requestfinished", (r) => inflight.delete(r));
  context.on("requestfailed", (r) => inflight.delete(r));
  context.on("response", (r) => {
    if (/\/api\/v1\/auth\/(login|refresh)$/.test(r.url()) && r.status() === 200) r.text().then((t) => tokenAnswers.push(t), () => undefined);
  });
  const page = await context.newPage();
  page.on("pageerror", (e) => pageErrors.push(`${name}: ${e.message}`));
  page.on("console", (msg) => {
    // An API refusal the page handles (a 401 asking for a code), and the connection the test
    // itself drops under an upload's segment, are logged by the browser as failed loads;
    // anything else written as an error is the page's own.
    const handled = /^Failed to load resource: the server responded with a status of (401|403)/.test(msg.text()) || (/ERR_CONNECTION_RESET/.test(msg.text()) && /\/api\/v1\/uploads\//.test(msg.location().url));
    if (msg.type() === "error" && !handled) {
      pageErrors.push(`${name}: ${msg.text()} at ${msg.location().url}`);
    }
  });
  return { name, context, page, secret: null };
}

const axeSeen = new Set();
async function audit(user, label) {
  const { page } = user;
  const shoot = shots
    ? async (lang) => {
        mkdirSync(shots, { recursive: true });
        await screenshot(page, join(shots, `${user.name}-${label.replace(/\W+/g, "-")}${lang === "en" ? "" : `-${lang}`}.png`));
      }
    : null;
  await auditBothLanguages(page, label, check, shoot);
  axeSeen.add(label);
}

/// The page as a phone shows it (390 px wide): nothing wider than the screen, and a picture
/// for the book beside the desktop one.
async function phone(user, label) {
  const { page } = user;
  const was = page.viewportSize();
  await page.setViewportSize({ width: 390, height: 844 });
  await sleep(200);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 0, `"${label}" fits a 390 px phone screen (${overflow} px too wide)`);
  if (shots) {
    mkdirSync(shots, { recursive: true });
    await screenshot(page, join(shots, `${user.name}-${label.replace(/\W+/g, "-")}-390.png`));
  }
  if (was) await page.setViewportSize(was);
}

async function heading(page, text) {
  await page.getByRole("heading", { level: 1, name: text }).waitFor({ timeout: 30000 });
}

/// From the email to an unlocked key: the invitation, sign-in, the authenticator, the key.
/// From the inbox: the same placement question to the solicitor, sent.
async function askSolicitorAgain(p) {
  await p.getByRole("link", { name: "Ask an adviser" }).click();
  await heading(p, "Ask an adviser");
  await p.getByLabel("Alex Solicitor").check();
  await p.getByLabel("Placement", { exact: true }).check();
  await p.getByLabel("Not raised yet").check();
  await p.getByLabel("Routine").check();
  await p.getByLabel("Your question").fill(QUESTION);
  await p.getByRole("button", { name: "Send question" }).click();
}

/// Chromium's virtual authenticator (DevTools protocol) in the user's page: a platform
/// authenticator with user verification, standing in for a laptop's.
async function addAuthenticator(user) {
  const cdp = await user.context.newCDPSession(user.page);
  await cdp.send("WebAuthn.enable");
  await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: { protocol: "ctap2", transport: "internal", hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true, hasPrf: true },
  });
}

async function enrol(user, invitation, email, displayName, { passkey = false } = {}) {
  const { page } = user;
  await page.goto(invitation.link);
  await heading(page, "Create your account");
  await audit(user, "create account");
  // Nothing filled in: the error summary lists each field.
  await page.getByRole("button", { name: "Create account" }).click();
  await page.getByRole("alert").waitFor();
  check((await page.getByRole("alert").getByRole("link").count()) >= 3, "an empty form gets an error summary linking to each field");
  await audit(user, "create account with errors");
  await page.getByLabel("Invitation code").fill(invitation.code);
  await page.getByLabel("Your name").fill(displayName);
  await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await page.getByLabel("Confirm password").fill(PASSWORD);
  await page.getByRole("button", { name: "Create account" }).click();
  await heading(page, "Sign in");
  check(!page.url().includes(invitation.link.split("#")[1]), "the spent token leaves the address bar");
  await audit(user, "sign in");
  await page.getByLabel("Email address").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await heading(page, "Set up your authenticator app");
  await audit(user, "authenticator");
  if (passkey) {
    // A passkey as the only second factor: no authenticator app at all.
    await addAuthenticator(user);
    await page.getByRole("button", { name: "Set up a passkey instead" }).click();
  } else {
    user.secret = (await page.locator("#totp-secret").textContent()).replace(/\s/g, "");
    await page.getByLabel("Enter the code it shows").fill(await freshCode(user.secret));
    await page.getByRole("button", { name: "Continue" }).click();
  }
  await heading(page, "Set up your encryption key");
  await audit(user, "key");
  await page.getByLabel("Key passphrase", { exact: true }).fill(PASSPHRASE);
  await page.getByLabel("Confirm key passphrase").fill(PASSPHRASE);
  await page.getByRole("button", { name: "Create my key" }).click();
  await heading(page, "Save your recovery file");
  await audit(user, "recovery");
  const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("link", { name: "Download recovery file" }).click()]);
  user.recovery = join(work, `${user.name}-recovery.txt`);
  await download.saveAs(user.recovery);
  check(/^AGE-SECRET-KEY-1[0-9A-Z]+$/m.test(readFileSync(user.recovery, "utf8")), `${user.name}: the recovery file is a standard age identity file`);
  await page.getByRole("button", { name: "I have saved my recovery file" }).click();
  await heading(page, "Your queries");
  await audit(user, `inbox (${user.name})`);
}

/// After a reload: the session continues (its refresh token is in a cookie the page cannot
/// read) but the key is gone; the passphrase brings it back from this browser's own copy.
async function reloadAndUnlock(user) {
  const { page } = user;
  await page.reload();
  await heading(page, "Unlock your key");
  await page.getByLabel("Key passphrase").fill(PASSPHRASE);
  await page.getByRole("button", { name: "Unlock", exact: true }).click();
  await heading(page, "Your queries");
}

/// After signing out: the password, a code and the passphrase bring the session and the
/// key back (the wrapped key from this browser's own copy).
async function signInAndUnlock(user, email) {
  const { page } = user;
  await heading(page, "Sign in");
  await page.getByLabel("Email address").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByLabel("Code from your authenticator app").fill(await freshCode(user.secret));
  const started = performance.now();
  await page.getByRole("button", { name: "Sign in" }).click();
  await heading(page, "Unlock your key");
  const signedIn = performance.now();
  await audit(user, `unlock (${user.name})`);
  await page.getByLabel("Key passphrase").fill(PASSPHRASE);
  const unlocking = performance.now();
  await page.getByRole("button", { name: "Unlock", exact: true }).click();
  await heading(page, "Your queries");
  measured.push(`sign-in (password and code) to the unlock page: ${(signedIn - started).toFixed(0)} ms; unlock (scrypt, work factor 18) to the inbox: ${(performance.now() - unlocking).toFixed(0)} ms`);
}

const iro = await newUser("iro");
const solicitor = await newUser("solicitor");
const peer = await newUser("peer");
try {
  await enrol(solicitor, solicitorInvite, "alex.solicitor@e2e.invalid", "Alex Solicitor");
  await enrol(iro, iroInvite, "sam.iro@e2e.invalid", "Sam Iro");
  await enrol(peer, peerInvite, "robin.peer@e2e.invalid", "Robin Peer", { passkey: true });
  check(true, "the peer adviser enrols with a passkey instead of an authenticator app");
  // The operator's backup, taken while serving: later restored to roll the log back.
  const backup = join(work, "backup-before-asking.db");
  operator("backup", "--out", backup);

  // The IRO asks.
  const p = iro.page;
  await p.getByRole("link", { name: "Ask an adviser" }).click();
  await heading(p, "Ask an adviser");
  await audit(iro, "ask");
  await p.getByLabel("Alex Solicitor").check();
  await p.getByLabel("Care plan drift").check();
  await p.getByLabel("Raised informally").check();
  await p.getByLabel("Routine").check();
  // A name in the question is caught before anything is sent.
  await p.getByLabel("Your question").fill("Jayden Smith has had no review. " + QUESTION);
  await p.getByRole("button", { name: "Send question" }).click();
  await p.getByText("Your question may contain a name: Jayden Smith").first().waitFor();
  check(!sent.some((r) => r.url.endsWith("/api/v1/queries") && r.body), "a possible child's name stops the question before it is sent");
  await audit(iro, "ask with name check");
  await p.getByLabel("Your question").fill(QUESTION);
  await p.getByLabel("Attach files (optional)").setInputFiles({ name: "minutes.txt", mimeType: "text/plain", buffer: Buffer.from(MINUTES) });
  // The connection drops under the attachment's first segment: the page sends it again.
  let dropped = 0;
  await p.route("**/api/v1/uploads/*", (route) => {
    if (route.request().method() === "PATCH" && dropped === 0) {
      dropped += 1;
      return route.abort("connectionreset");
    }
    return route.continue();
  });
  await p.getByRole("button", { name: "Send question" }).click();
  await heading(p, "Care plan drift");
  await p.getByText(QUESTION).waitFor();
  await p.unroute("**/api/v1/uploads/*");
  check(true, "the IRO sees the question decrypted in the thread");
  check(dropped === 1, "a segment whose connection dropped was sent again (the solicitor opens the whole file below)");
  await audit(iro, "thread (iro)");

  // The solicitor accepts, reads and replies.
  const s = solicitor.page;
  // A reload keeps the session but forgets the key: unlock again.
  await reloadAndUnlock(solicitor);
  check(true, "a reload keeps the session and asks only to unlock the key");
  await s.getByRole("link", { name: "Care plan drift" }).click();
  await heading(s, "Care plan drift");
  await s.getByText(QUESTION).waitFor();
  await audit(solicitor, "thread (adviser, before accepting)");
  const [opened] = await Promise.all([s.waitForEvent("download"), s.getByRole("button", { name: "Open attachment 1" }).click()]);
  const openedAt = join(work, "opened-attachment");
  await opened.saveAs(openedAt);
  check(opened.suggestedFilename() === "minutes.txt" && readFileSync(openedAt, "utf8") === MINUTES, "the solicitor opens the attachment, decrypted in the page, under its own name");
  // What the service stored is the age file the page made: the solicitor's recovery file
  // and the age tool open it, to the client's envelope with the name and type inside.
  const stored = spawnSync("python3", ["-c", "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); sys.stdout.buffer.write(b''.join(r[0] for r in c.execute('SELECT data FROM attachment_chunks ORDER BY attachment_id, seq')))", join(work, "data", "iro-advice.db")]);
  writeFileSync(join(work, "attachment.age"), stored.stdout);
  check(stored.stdout.subarray(0, 21).toString() === "age-encryption.org/v1" && !stored.stdout.includes(Buffer.from(MINUTES.slice(0, 40))), "the service stores the attachment as a binary age file, no plaintext");
  const decrypted = spawnSync("age", ["-d", "-i", solicitor.recovery, join(work, "attachment.age")], { encoding: "utf8" });
  check(decrypted.status === 0 && decrypted.stdout.startsWith(`IRO-ADVICE-ATTACHMENT/1\n{"name":"minutes.txt","type":"text/plain","query":`) && /"signature":"[A-Za-z0-9+/=]{88}"\}\n/.test(decrypted.stdout) && decrypted.stdout.endsWith(`\n${MINUTES}`), "age -d gives the attachment in the client's envelope: name, type and the IRO's signature inside");
  await s.getByRole("button", { name: "Accept query" }).click();
  await s.locator(".caption", { hasText: "Accepted" }).waitFor();
  await s.getByLabel("Your reply").fill(REPLY);
  await s.getByRole("button", { name: "Send reply" }).click();
  await s.getByText(REPLY).waitFor();
  check(true, "the solicitor reads the question and sends a reply");

  // The IRO signs out and in again, reads the reply and closes.
  await p.getByRole("button", { name: "Sign out" }).click();
  await p.getByText("You have signed out.").waitFor();
  await p.reload();
  await heading(p, "Sign in");
  check(true, "after signing out, a reload does not continue the session");
  await signInAndUnlock(iro, "sam.iro@e2e.invalid");
  await p.getByRole("link", { name: "Care plan drift" }).click();
  await p.getByText(REPLY).waitFor();

  // The command-line client, given the recovery file the page made, writes a reply; the
  // solicitor's page decrypts it.
  const profile = join(work, "iro-cli");
  const client = (...args) => {
    const out = spawnSync(binary, ["client", "--profile-dir", profile, ...args], { env: { ...env, IRO_ADVICE_PASSWORD: PASSWORD }, encoding: "utf8" });
    if (out.status !== 0) throw new Error(`client ${args[0]}: ${out.stderr}`);
    return out.stdout;
  };
  client("login", "--server", url, "--email", "sam.iro@e2e.invalid", "--ca", cert, "--totp", await freshCode(iro.secret));
  writeFileSync(join(profile, "identity.txt"), readFileSync(iro.recovery), { mode: 0o600 });
  const FROM_CLI = "Sent from the command-line client: the minutes are attached above.";
  writeFileSync(join(work, "cli-reply.txt"), FROM_CLI);
  const queryId = p.url().split("/queries/")[1];
  client("reply", queryId, "--body", join(work, "cli-reply.txt"));
  await s.getByRole("link", { name: "Back" }).click();
  await heading(s, "Your queries");
  await s.getByRole("link", { name: "Care plan drift" }).click();
  await s.getByText(FROM_CLI).waitFor();
  check(true, "what the command-line client encrypted, the page decrypts");

  // Every message is signed by its author's key, whichever wrote it: the client checks what
  // the pages signed, and the page what the client signed.
  const shownByCli = JSON.parse(client("show", queryId, "--json"));
  check(shownByCli.messages.length === 3 && shownByCli.messages.every((x) => x.signature === "signed"), `the client finds every message signed by its sender (${shownByCli.messages.map((x) => x.signature).join(", ")})`);
  check((await s.locator(".message-forged").count()) === 0, "the page finds every message signed by its sender");

  // The operator's forgery: with the solicitor's password hash swapped and their TOTP secret
  // unsealed, it signs in as them and sends advice in their name. The service takes it; it
  // cannot sign with the solicitor's key, so their correspondents' pages say so.
  const FORGED = "You must NOT go to Cafcass; use your authority's lawyers.";
  const asSolicitor = (await api("POST", "/api/v1/auth/login", { email: "alex.solicitor@e2e.invalid", password: PASSWORD, totp_code: await freshCode(solicitor.secret) })).json.access_token;
  const forger = new Encrypter();
  forger.addRecipient(shownByCli.iro_recipient);
  forger.addRecipient(shownByCli.adviser_recipient);
  const forgedReply = await api("POST", `/api/v1/queries/${queryId}/messages`, { body: armor.encode(await forger.encrypt(FORGED)) }, asSolicitor);
  check(forgedReply.status === 201, "the service stores the forged reply as the solicitor's (it cannot tell)");
  await reloadAndUnlock(iro);
  await p.getByRole("link", { name: "Care plan drift" }).click();
  await p.getByText(FORGED).waitFor();
  check(await p.getByText("Not signed by Alex Solicitor: the service shows this as theirs").isVisible(), "the IRO's page marks the forged reply as not signed by the solicitor, never as their words");
  await audit(iro, "thread with a forged reply");
  await reloadAndUnlock(solicitor);
  await s.getByRole("link", { name: "Care plan drift" }).click();
  await s.locator("#forged-in-your-name").waitFor();
  check(true, "the solicitor's page raises the alert for a message in their name that they did not sign");

  if (bench) {
    // Memory is flat when its peak does not grow with the file: the same measure for a
    // small and a large file. The page's JS heap, and the resident memory of the tab's own
    // process (the renderer) and of the browser's, read from /proc.
    const cdp = await browser.newBrowserCDPSession();
    const resident = async () => {
      const { processInfo } = await cdp.send("SystemInfo.getProcessInfo");
      const out = new Map();
      for (const { id, type } of processInfo) {
        try {
          // Anonymous memory only: the file being read may be mapped, which costs no memory
          // the system cannot take back.
          const kb = Number(/RssAnon:\s+(\d+)/.exec(readFileSync(`/proc/${id}/status`, "utf8"))[1]);
          out.set(id, { type, bytes: kb * 1024 });
        } catch {}
      }
      return out;
    };
    const heap = () => p.evaluate(() => performance.memory?.usedJSHeapSize ?? 0);
    const mib = (n) => (n / 1048576).toFixed(0);
    let attachments = 1;
    for (const sizeMiB of [10, 50, 100]) {
      const big = join(work, `big-${sizeMiB}.bin`);
      const size = sizeMiB * 1024 * 1024;
      writeFileSync(big, Buffer.alloc(size, 7));
      // Unlocking leaves scrypt's 256 MiB of garbage behind: collected first, so that the
      // upload's own growth is what is measured.
      const pageCdp = await p.context().newCDPSession(p);
      await pageCdp.send("HeapProfiler.collectGarbage");
      await pageCdp.detach();
      await sleep(500);
      const before = await heap();
      const processesBefore = await resident();
      await p.getByLabel("Add an attachment").setInputFiles(big);
      let peak = before;
      const grown = new Map();
      const t0 = performance.now();
      await p.getByRole("button", { name: "Encrypt and attach" }).click();
      attachments += 1;
      const done = p.getByRole("button", { name: `Open attachment ${attachments}` }).waitFor({ timeout: 300000 });
      let finished = false;
      done.then(() => (finished = true));
      while (!finished) {
        peak = Math.max(peak, await heap().catch(() => 0));
        for (const [id, { type, bytes }] of await resident()) {
          const growth = bytes - (processesBefore.get(id)?.bytes ?? bytes);
          const key = type === "renderer" ? "renderer" : type;
          grown.set(key, Math.max(grown.get(key) ?? 0, growth));
        }
        await sleep(100);
      }
      const pageMs = performance.now() - t0;
      const t1 = performance.now();
      client("attach", queryId, big);
      attachments += 1;
      const cliMs = performance.now() - t1;
      measured.push(
        `${sizeMiB} MiB attachment, encrypted and uploaded: page ${(pageMs / 1000).toFixed(1)} s, command-line client ${(cliMs / 1000).toFixed(1)} s (${(pageMs / cliMs).toFixed(1)}×); ` +
          `page JS heap ${mib(before)} MiB before, ${mib(peak)} MiB at most; resident growth at most: renderer ${mib(grown.get("renderer") ?? 0)} MiB, browser ${mib(grown.get("browser") ?? 0)} MiB`,
      );
      await reloadAndUnlock(iro);
      await p.getByRole("link", { name: "Care plan drift" }).click();
      await p.getByText(FROM_CLI).waitFor();
    }
  }
  await p.getByLabel("Advice given").check();
  await p.getByRole("button", { name: "Close query" }).click();
  await p.locator(".caption", { hasText: "Closed" }).waitFor();
  await audit(iro, "thread closed");
  check(true, "the IRO reads the reply and closes the query");

  // A decline and a re-route: the IRO asks the solicitor again, the solicitor declines, and
  // the IRO hands the query to the peer adviser, everything encrypted again in the page.
  const SECOND = "Is a placement move without a review lawful for a child with an ICO?";
  await p.getByRole("link", { name: "Back" }).click();
  await heading(p, "Your queries");
  // The page moves focus to its heading once it has rendered: wait for that, or it takes the
  // focus back from the link below.
  await p.waitForFunction(() => document.activeElement?.tagName === "H1");
  // This time by keyboard only: Tab between groups, Space and arrows to choose, Enter to send.
  await p.getByRole("link", { name: "Ask an adviser" }).focus();
  await p.keyboard.press("Enter");
  await heading(p, "Ask an adviser");
  const focused = () => p.evaluate(() => {
    const el = document.activeElement;
    return el?.id ? (document.querySelector(`label[for="${el.id}"]`)?.textContent ?? el.id) : (el?.tagName ?? "");
  });
  async function choose(label) {
    await p.keyboard.press("Tab");
    await p.keyboard.press("Space");
    for (let i = 0; i < 12 && (await focused()) !== label; i++) await p.keyboard.press("ArrowDown");
    check((await focused()) === label, `keyboard: "${label}" chosen`);
  }
  await choose("Alex Solicitor");
  await choose("Placement");
  await choose("Formal dispute resolution");
  await choose("Urgent: a decision is due within days");
  await p.keyboard.press("Tab");
  check((await focused()) === "Your question", "keyboard: Tab reaches the question");
  await p.keyboard.type(SECOND);
  await p.keyboard.press("Tab");
  await p.keyboard.press("Tab");
  check((await p.evaluate(() => document.activeElement?.textContent)) === "Send question", "keyboard: Tab reaches Send");
  await p.keyboard.press("Enter");
  await heading(p, "Placement");
  check(true, "the ask flow is done once by keyboard only");
  // An attachment added to the thread afterwards, which the route below must re-encrypt.
  const PLAN = "Placement plan, draft 2: the move goes ahead without a review.\n";
  await p.getByLabel("Add an attachment").setInputFiles({ name: "plan.txt", mimeType: "text/plain", buffer: Buffer.from(PLAN) });
  await p.getByRole("button", { name: "Encrypt and attach" }).click();
  await p.getByRole("button", { name: "Open attachment 1" }).waitFor();
  await s.getByRole("link", { name: "Back" }).click();
  await heading(s, "Your queries");
  await s.getByRole("link", { name: "Placement" }).click();
  await s.getByText(SECOND).waitFor();
  await s.getByLabel("A conflict of interest").check();
  await s.getByRole("button", { name: "Decline query" }).click();
  await heading(s, "Your queries");
  await s.getByText("You declined the query.").waitFor();
  await reloadAndUnlock(iro);
  await p.getByRole("link", { name: "Placement" }).click();
  await p.getByRole("heading", { name: "Ask someone else" }).waitFor();
  await p.getByText(/Alex Solicitor declined this query on .+\. Their reason: A conflict of interest\./).waitFor();
  check(true, "the IRO is told who declined and why");
  await audit(iro, "route after a decline");
  await p.getByLabel("Robin Peer").check();
  await p.getByRole("button", { name: "Send to this adviser" }).click();
  await p.getByText("Your query was encrypted again and sent to Robin Peer.").waitFor();
  const routed = sent.find((r) => r.url.endsWith("/route") && r.body);
  check(routed && !routed.body.includes(SECOND), "the route request carries only ciphertext");
  // The peer's browser loses its copy of the locked key (as a new device would have none):
  // the passkey, not a code, vouches for fetching the service's copy.
  await peer.page.evaluate(() => new Promise((done) => { const r = indexedDB.deleteDatabase("iro-advice"); r.onsuccess = r.onerror = r.onblocked = () => done(null); }));
  await peer.page.reload();
  await heading(peer.page, "Unlock your key");
  await peer.page.getByText("Your passkey fetches the locked copy").waitFor();
  check((await peer.page.getByLabel("Code from your authenticator app").count()) === 0, "an account with only a passkey is not asked for a code");
  await audit(peer, "unlock on a new device with a passkey");
  await peer.page.getByLabel("Key passphrase").fill(PASSPHRASE);
  await peer.page.getByRole("button", { name: "Unlock with your passkey" }).click();
  await heading(peer.page, "Your queries");
  check(true, "with no copy of the key in the browser, the passkey vouches for fetching the locked copy");
  await peer.page.getByRole("link", { name: "Placement" }).click();
  await peer.page.getByText(SECOND).waitFor();
  check(true, "the peer adviser reads the routed question with their own key");
  const [plan] = await Promise.all([peer.page.waitForEvent("download"), peer.page.getByRole("button", { name: "Open attachment 1" }).click()]);
  const planAt = join(work, "plan-peer.txt");
  await plan.saveAs(planAt);
  check(plan.suggestedFilename() === "plan.txt" && readFileSync(planAt, "utf8") === PLAN, "the attachment, re-encrypted in the page for the peer adviser (sent in segments, in place), opens for them");
  await audit(peer, "routed thread (peer)");

  // The IRO reports being discouraged, shared with NAIRO.
  await p.getByRole("link", { name: "Back" }).click();
  await heading(p, "Your queries");
  await p.getByRole("link", { name: "Report pressure" }).click();
  await heading(p, "Report pressure");
  await audit(iro, "pressure report");
  await p.getByLabel("I was discouraged from seeking advice").check();
  const today = new Date();
  await p.getByLabel("Day").fill(String(today.getDate()));
  await p.getByLabel("Month").fill(String(today.getMonth() + 1));
  await p.getByLabel("Year").fill("2099");
  await p.getByLabel("What happened, in your words (optional)").fill(NARRATIVE);
  await p.getByLabel("Share this report with NAIRO").check();
  await p.getByRole("button", { name: "Record report" }).click();
  await p.getByRole("alert").getByText("Enter the date it happened, not in the future").waitFor();
  check(!sent.some((r) => r.url.endsWith("/api/v1/pressure-reports") && r.body), "a date in the future is refused before anything is sent");
  await audit(iro, "pressure report with errors");
  await p.getByLabel("Year").fill(String(today.getFullYear()));
  await p.getByRole("button", { name: "Record report" }).click();
  await heading(p, "Your queries");
  await p.getByText(/Your report was recorded in the log at entry \d+/).waitFor();
  check(true, "the IRO records a pressure report and is told where it is in the log");
  const reported = sent.find((r) => r.url.endsWith("/api/v1/pressure-reports") && r.body);
  const report = JSON.parse(reported.body.toString());
  check(report.share_with_nairo === true && report.kind === "discouraged_from_advice", "the report is shared with NAIRO, of the kind chosen");
  writeFileSync(join(work, "narrative.age"), report.narrative);
  for (const [who, key] of [["NAIRO", nairoKey], ["the IRO", iro.recovery]]) {
    const out = spawnSync("age", ["-d", "-i", key, join(work, "narrative.age")], { encoding: "utf8" });
    check(out.status === 0 && out.stdout === NARRATIVE, `age -d with ${who}'s key gives the narrative`);
  }

  // The report's receipt: checked in the page, downloaded, and verified offline by the
  // command line with the log's key.
  await p.getByRole("link", { name: "Receipts" }).click();
  await heading(p, "Your receipts");
  const row = p.getByRole("row", { name: /You reported pressure/ });
  await row.getByRole("button", { name: /^Check entry/ }).click();
  await p.getByText(/is in the log: its checkpoint \(\d+ entries\) verifies with the log and witness keys this browser pinned/).waitFor();
  check(true, "the pressure report's receipt verifies in the page, consistent with the newest checkpoint");
  await audit(iro, "receipts");
  const [receiptFile] = await Promise.all([p.waitForEvent("download"), row.getByRole("button", { name: /^Download entry/ }).click()]);
  const receiptAt = join(work, "receipt.json");
  await receiptFile.saveAs(receiptAt);
  const logKey = (await api("GET", "/api/v1/log/key")).text.trim();
  const offline = spawnSync(binary, ["receipt", "verify", receiptAt, "--key", logKey], { encoding: "utf8" });
  check(offline.status === 0 && offline.stdout.includes("pressure_reported"), `the downloaded receipt verifies with iro-advice receipt verify ${offline.stderr}`);
  await p.getByRole("link", { name: "IRO Advice" }).click();
  await heading(p, "Your queries");

  // A new laptop, and the passphrase forgotten: the recovery file unlocks the account there.
  const laptop = await newUser("iro-new-device");
  laptop.secret = iro.secret;
  const l = laptop.page;
  await l.goto(`${url}/`);
  await heading(l, "Sign in");
  await l.getByLabel("Email address").fill("sam.iro@e2e.invalid");
  await l.getByLabel("Password").fill(PASSWORD);
  await l.getByRole("button", { name: "Sign in" }).click();
  await l.getByLabel("Code from your authenticator app").fill(await freshCode(iro.secret));
  await l.getByRole("button", { name: "Sign in" }).click();
  await heading(l, "Unlock your key");
  await l.getByText("This device has no copy of your key yet.").waitFor();
  await l.getByRole("button", { name: "Use your recovery file instead" }).click();
  await l.getByLabel("Your recovery file").setInputFiles({ name: "wrong.txt", mimeType: "text/plain", buffer: Buffer.from(readFileSync(solicitor.recovery)) });
  await l.getByRole("button", { name: "Unlock with the file" }).click();
  await l.getByRole("alert").getByText("That file does not hold the key this account uses").waitFor();
  await audit(laptop, "unlock with the recovery file (wrong file)");
  await l.getByLabel("Your recovery file").setInputFiles(iro.recovery);
  await l.getByRole("button", { name: "Unlock with the file" }).click();
  await heading(l, "Your queries");
  await l.getByRole("link", { name: "Care plan drift" }).click();
  await l.getByText(QUESTION).waitFor();
  check(true, "on a new device the recovery file unlocks the account, and another user's file does not");

  // Where the IRO is signed in: this browser, the new laptop and the command-line client.
  // The IRO signs the laptop out from here; the laptop's next request finds it signed out.
  await p.getByRole("link", { name: "Your account" }).click();
  await heading(p, "Your account");
  const sessions = p.locator("li.session");
  await sessions.filter({ hasText: "A web browser" }).first().waitFor();
  check((await sessions.filter({ hasText: "This browser (now)" }).count()) === 1 && (await sessions.filter({ hasText: "The command-line client" }).count()) === 1 && (await sessions.filter({ hasText: "A web browser" }).count()) === 1, "the account page lists this browser, the new laptop and the command-line client");
  const shownLogKey = (await p.locator("#trusted-log-key").textContent())?.trim();
  check(shownLogKey === (await api("GET", "/api/v1/log/key")).text.trim(), "the account page shows the log key this browser checks with, to compare with NAIRO's");
  await audit(iro, "account (iro): sessions, second factors, password");
  await sessions.filter({ hasText: "A web browser" }).getByRole("button", { name: /^Sign out the session/ }).click();
  await p.getByText("That session has been signed out.").waitFor();
  await l.getByRole("link", { name: "Back" }).click();
  await heading(l, "Sign in");
  await l.getByText("You were signed out: your session was ended").waitFor();
  await l.reload();
  await heading(l, "Sign in");
  check(true, "a session signed out from another device ends at its next request, and a reload does not bring it back");
  // The sign-ins the log holds, which no deleted session row can hide.
  const signIns = p.locator("#sign-ins li");
  await signIns.filter({ hasText: "no longer signed in" }).first().waitFor();
  const signInCounts = { here: await signIns.filter({ hasText: "this session" }).count(), open: await signIns.filter({ hasText: "still signed in" }).count(), gone: await signIns.filter({ hasText: "no longer signed in" }).count() };
  check(signInCounts.here === 1 && signInCounts.open >= 1 && signInCounts.gone >= 1 && (await p.locator("#sign-ins-missing").count()) === 0, `the account page lists the sign-ins the log holds: this one, the client's still open, the laptop's signed out ${JSON.stringify(signInCounts)}`);
  await phone(iro, "account sign-ins");
  await laptop.context.close();

  // The refresh token never reaches the page: not in the page's cookies, not in any answer
  // it read; and a state-changing request without the page's header is refused.
  check(!(await p.evaluate(() => document.cookie)).includes("iro-advice-refresh"), "the refresh cookie is out of the page's script's reach (HttpOnly)");
  check(tokenAnswers.length > 0 && tokenAnswers.every((t) => !t.includes("refresh_token")), `no sign-in or refresh answer the page read carried a refresh token (${tokenAnswers.length} answers)`);
  const forged = await p.evaluate(async () => {
    const res = await fetch("/api/v1/auth/logout", { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" });
    return { status: res.status, type: (await res.json()).type };
  });
  check(forged.status === 403 && forged.type === "urn:iro-advice:problem:cross-site-request", `a request with the session cookie but without the page's header is refused ${JSON.stringify(forged)}`);
  await p.getByRole("link", { name: "Receipts" }).click();
  await heading(p, "Your receipts");
  check(true, "and the session it tried to end is still alive");

  // A new password, with the current one and a code: every other session ends, the
  // command-line client's included.
  await p.getByRole("link", { name: "Your account" }).click();
  await heading(p, "Your account");
  await p.getByLabel("Current password").fill("not the password at all");
  await p.getByLabel("New password").fill(NEW_PASSWORD);
  await p.getByLabel("Confirm password").fill(NEW_PASSWORD);
  await p.getByLabel("Code from your authenticator app", { exact: true }).fill(await freshCode(iro.secret));
  await p.getByRole("button", { name: "Change password" }).click();
  await p.getByRole("alert").getByText("Your current password is wrong").waitFor();
  await audit(iro, "change password (wrong current password)");
  await p.getByLabel("Current password").fill(PASSWORD);
  await p.getByLabel("Code from your authenticator app", { exact: true }).fill(await freshCode(iro.secret));
  await p.getByRole("button", { name: "Change password" }).click();
  await p.getByText("Your password was changed. Every other session has been signed out.").waitFor();
  const cliAfter = spawnSync(binary, ["client", "--profile-dir", profile, "inbox"], { env, encoding: "utf8" });
  check(cliAfter.status !== 0 && /session has ended/.test(cliAfter.stderr), `the password change ended the command-line client's session ${cliAfter.stderr.trim()}`);
  await sessions.filter({ hasText: "The command-line client" }).waitFor({ state: "detached" });
  check((await sessions.count()) === 1, "and the account page now lists only this browser");

  // A passkey, added on the account page with a code to vouch for it (Chromium's virtual
  // authenticator standing in for the laptop's); then the IRO signs out, and in again with
  // the new password and the passkey instead of a code.
  await addAuthenticator(iro);
  await p.getByLabel("Name for this passkey (optional)").fill("Work laptop");
  await p.getByLabel("Code from your authenticator app, to add the passkey").fill(await freshCode(iro.secret));
  await p.getByRole("button", { name: "Add a passkey" }).click();
  await p.getByText("Passkey added. Every other session has been signed out.").waitFor();
  await p.getByText("Passkey: Work laptop").waitFor();
  await audit(iro, "account with a passkey");
  await p.getByRole("button", { name: "Sign out", exact: true }).click();
  await heading(p, "Sign in");
  await p.getByLabel("Email address").fill("sam.iro@e2e.invalid");
  await p.getByLabel("Password").fill(NEW_PASSWORD);
  await p.getByRole("button", { name: "Sign in" }).click();
  await p.getByRole("button", { name: "Use a passkey instead of a code" }).click();
  await heading(p, "Unlock your key");
  check(true, "the IRO adds a passkey in the page and signs in with it instead of a code");
  await p.getByLabel("Key passphrase").fill(PASSPHRASE);
  await p.getByRole("button", { name: "Unlock", exact: true }).click();
  await heading(p, "Your queries");

  // The key sealed, on this device only, to a passkey (WebAuthn PRF, age's fido2prf
  // recipient): after a reload the passkey unlocks it, no passphrase typed.
  await p.getByRole("link", { name: "Your account" }).click();
  await heading(p, "Your account");
  await p.getByRole("button", { name: "Use a passkey to unlock on this device" }).click();
  await p.getByText("This device now unlocks your key with a passkey.").waitFor();
  await audit(iro, "account: unlock with a passkey on this device");
  await p.reload();
  await heading(p, "Unlock your key");
  await p.getByRole("button", { name: "Unlock with this device's passkey" }).click();
  await heading(p, "Your queries");
  await p.getByRole("link", { name: "Placement" }).first().click();
  await p.getByText(SECOND).waitFor();
  check(true, "a passkey (PRF) unlocks the key on this device, and the key reads the IRO's queries");
  await p.getByRole("link", { name: "IRO Advice" }).click();
  await heading(p, "Your queries");

  // Nothing the browsers sent carries the plaintext or an unwrapped key.
  const needles = [QUESTION, SECOND, REPLY, NARRATIVE, MINUTES.slice(0, 40), "minutes.txt", PLAN.slice(0, 40), "plan.txt", "AGE-SECRET-KEY", PASSPHRASE];
  for (const needle of needles) {
    const found = sent.filter((r) => r.url.includes(needle) || r.headers.includes(needle) || (r.body && r.body.includes(needle)));
    check(found.length === 0, `no request carries ${needle.slice(0, 24)}…`);
  }
  check(sent.some((r) => r.body && r.body.includes("-----BEGIN AGE ENCRYPTED FILE-----")), "the question was sent as an armored age file");

  // What the page encrypted, the age tool decrypts with the downloaded recovery file.
  const asked = sent.find((r) => r.url.endsWith("/api/v1/queries") && r.body);
  const armored = JSON.parse(asked.body.toString()).body;
  writeFileSync(join(work, "question.age"), armored);
  for (const user of [iro, solicitor]) {
    const out = spawnSync("age", ["-d", "-i", user.recovery, join(work, "question.age")], { encoding: "utf8" });
    check(out.status === 0 && out.stdout.startsWith("IRO-ADVICE-SIGNED/1\n") && out.stdout.endsWith(`\n${QUESTION}`), `age -d with the ${user.name}'s recovery file gives the question, after the IRO's signature`);
  }
  // The insider's attack: the solicitor's key swapped in the database for one the insider
  // holds. The page checks the key against the log before encrypting, and sends nothing.
  const attacker = spawnSync("age-keygen", [], { encoding: "utf8" }).stdout.match(/age1[0-9a-z]+/)[0];
  const swap = spawnSync("python3", ["-c", "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); n=c.execute('UPDATE accounts SET age_recipient=? WHERE display_name=?', (sys.argv[2], 'Alex Solicitor')).rowcount; c.commit(); print(n)", join(work, "data", "iro-advice.db"), attacker], { encoding: "utf8" });
  check(swap.stdout.trim() === "1", `the insider swaps the solicitor's key in the database ${swap.stderr}`);
  const questionsSent = () => sent.filter((r) => r.url.endsWith("/api/v1/queries") && r.body).length;
  const askedBefore = questionsSent();
  await askSolicitorAgain(p);
  await p.getByRole("alert").getByText("Nothing was sent: the key the service gave is not the key the log holds").waitFor();
  check(questionsSent() === askedBefore, "with the key swapped, the page refuses to encrypt and sends nothing");
  await audit(iro, "ask refused (key swapped)");

  // A genuine change: the solicitor makes a new key with the command-line client, a key
  // event in the log. The IRO's page shows both fingerprints and sends nothing until the
  // IRO, having checked by phone, confirms; then the question goes to the new key.
  const solProfile = join(work, "solicitor-cli");
  const solClient = (...args) => {
    const out = spawnSync(binary, ["client", "--profile-dir", solProfile, ...args], { env: { ...env, IRO_ADVICE_PASSWORD: PASSWORD }, encoding: "utf8" });
    if (out.status !== 0) throw new Error(`client ${args[0]}: ${out.stderr}`);
    return out.stdout;
  };
  solClient("login", "--server", url, "--email", "alex.solicitor@e2e.invalid", "--ca", cert, "--totp", await freshCode(solicitor.secret));
  // The client holds the key the page made (its recovery file), so it signs the new key over.
  writeFileSync(join(solProfile, "identity.txt"), readFileSync(solicitor.recovery), { mode: 0o600 });
  solClient("keygen", "--force", "--totp", await freshCode(solicitor.secret));
  const solIdentity = join(solProfile, "identity.txt");
  const newRecipient = spawnSync("age-keygen", ["-y", solIdentity], { encoding: "utf8" }).stdout.trim();
  const newPrint = createHash("sha256").update(newRecipient).digest("hex").slice(0, 20).toUpperCase().match(/.{4}/g).join(" ");
  await p.getByRole("link", { name: "IRO Advice" }).click();
  await heading(p, "Your queries");
  await askSolicitorAgain(p);
  const warning = p.locator("#key-changed");
  await warning.getByText("Alex Solicitor's key has changed").waitFor();
  await warning.getByText(newPrint).waitFor();
  await warning.locator("#key-handover").getByText("The new key is signed by the one you had for Alex Solicitor").waitFor();
  check(questionsSent() === askedBefore, "a changed key (logged) stops the question until the IRO confirms, showing the new fingerprint the solicitor's client made and that the old key signed it over");
  await audit(iro, "ask: key changed, confirmation needed");
  await phone(iro, "ask: key changed, confirmation needed");
  await p.getByLabel("Alex Solicitor confirmed the new fingerprint by phone").check();
  await p.getByRole("button", { name: "Send question" }).click();
  await heading(p, "Placement");
  const toNewKey = sent.filter((r) => r.url.endsWith("/api/v1/queries") && r.body).pop();
  writeFileSync(join(work, "to-new-key.age"), JSON.parse(toNewKey.body.toString()).body);
  const readByNew = spawnSync("age", ["-d", "-i", solIdentity, join(work, "to-new-key.age")], { encoding: "utf8" });
  check(questionsSent() === askedBefore + 1 && readByNew.status === 0 && readByNew.stdout.endsWith(`\n${QUESTION}`), "once confirmed, the question is encrypted to the solicitor's new key (age -d with it)");

  // Advisers' settings: the solicitor declares a conflict with the IRO's authority, the peer
  // stops taking queries; the IRO then has nobody to ask.
  await s.getByRole("link", { name: "Your account" }).click();
  await heading(s, "Your account");
  // The page computes the fingerprint (a SHA-256 in the browser) after it renders: wait for it.
  const ownPrint = await s.locator("#own-fingerprint", { hasText: /^[0-9A-F]{4}( [0-9A-F]{4}){4}$/ }).waitFor({ timeout: 10000 }).then(() => true, () => false);
  check(ownPrint, "the account page shows the key's fingerprint, as the client prints it");
  await audit(solicitor, "account (adviser)");
  await s.getByLabel("Find an authority").fill("Hereford");
  await s.getByLabel("Herefordshire", { exact: true }).check();
  await s.getByRole("button", { name: "Save conflicts" }).click();
  await s.getByText("Your conflicts were saved: 1 authorities.").waitFor();
  await peer.page.getByRole("link", { name: "Your account" }).click();
  await heading(peer.page, "Your account");
  await peer.page.getByLabel("No, not at the moment").check();
  await peer.page.getByRole("button", { name: "Save", exact: true }).click();
  await peer.page.getByText("Saved: No, not at the moment.").waitFor();
  await p.getByRole("link", { name: "IRO Advice" }).click();
  await heading(p, "Your queries");
  await p.getByRole("link", { name: "Ask an adviser" }).click();
  await p.getByText("No adviser can take a question from you at the moment.").waitFor();
  check(true, "a conflict and unavailability, set in the page, take both advisers off the IRO's list");

  // The solicitor signs out everywhere; the page goes to sign-in and a reload stays there.
  await s.getByRole("link", { name: "Your account" }).click();
  await heading(s, "Your account");
  await s.getByRole("button", { name: "Sign out everywhere" }).click();
  await heading(s, "Sign in");
  await s.getByText("You have signed out everywhere.").waitFor();
  await s.reload();
  await heading(s, "Sign in");
  check(true, "signing out everywhere ends the page's own session too");

  // The operator's attack: the database restored from the backup taken before the question,
  // erasing it and the pressure report from the log. The IRO's browser holds a newer
  // checkpoint, so the page raises the alarm instead of believing the shorter log.
  await stopService();
  operator("restore", "--from", backup, "--accept-rollback");
  await startService();
  await p.reload();
  await heading(p, "Sign in");
  await p.getByLabel("Email address").fill("sam.iro@e2e.invalid");
  await p.getByLabel("Password").fill(PASSWORD);
  await p.getByRole("button", { name: "Sign in" }).click();
  await p.getByLabel("Code from your authenticator app").fill(await freshCode(iro.secret));
  await p.getByRole("button", { name: "Sign in" }).click();
  await heading(p, "Stop: the service's log has been rewritten");
  await audit(iro, "alarm (log rolled back)");
  const [evidence] = await Promise.all([p.waitForEvent("download"), p.getByRole("link", { name: "Download the evidence" }).click()]);
  const evidenceFile = join(work, "evidence.txt");
  await evidence.saveAs(evidenceFile);
  const evidenceText = readFileSync(evidenceFile, "utf8");
  check(/fewer than the \d+ it signed before/.test(evidenceText) && (evidenceText.match(/\u2014 /g) ?? []).length >= 2, "the alarm's evidence holds both signed checkpoints and says what changed");

  check(pageErrors.length === 0, `no script error in any page${pageErrors.length ? `: ${pageErrors.join("; ")}` : ""}`);
} catch (e) {
  check(false, e.stack ?? String(e));
  if (process.env.E2E_DEBUG) for (const r of sent.slice(-25)) console.log(`  sent by ${r.who}: ${r.url}`);
  if (process.env.E2E_DEBUG) for (const r of inflight) console.log(`  unfinished: ${r.method()} ${r.url()}`);
  if (shots) {
    mkdirSync(shots, { recursive: true });
    await iro.page.screenshot({ path: join(shots, "failure-iro.png"), fullPage: true }).catch(() => undefined);
    await solicitor.page.screenshot({ path: join(shots, "failure-solicitor.png"), fullPage: true }).catch(() => undefined);
  }
} finally {
  await browser.close().catch(() => undefined);
  service.kill();
  smtp.close();
}

console.log(`${axeSeen.size} pages audited with axe-core`);
if (bench) for (const line of measured) console.log(`measured: ${line}`);
if (bench) {
  const dist = new URL("../dist/", import.meta.url);
  const { gzipSync } = await import("node:zlib");
  const files = ["index.html", "app.js", "app.css"].map((f) => readFileSync(new URL(f, dist)));
  const raw = files.reduce((n, b) => n + b.length, 0);
  const gz = files.reduce((n, b) => n + gzipSync(b, { level: 9 }).length, 0);
  console.log(`measured: first load ${(raw / 1024).toFixed(0)} KB (${(gz / 1024).toFixed(0)} KB gzip-compressed), three files`);
}
if (tally.failures) {
  console.log(`${tally.failures} check(s) failed; the service's log is in ${serviceLog}`);
  process.exit(1);
}
rmSync(work, { recursive: true, force: true });
console.log("e2e: all checks passed");
