// The consoles, end to end, in Debian's Chromium: an administrator and a NAIRO reviewer, on a
// service whose database holds a synthetic year of activity and its frozen statistics
// releases. The administrator invites (the code shown once), finds, suspends, reactivates
// and approves accounts; the NAIRO reviewer reads a release, opens a chart's table, downloads
// the CSV and compares it byte for byte with the API's, and reads a narrative an IRO shared,
// decrypted in the page with NAIRO's key file. Every page is checked with axe-core and for
// text outside the catalogue, in English and in Welsh.
//
// Usage: node tests/console.mjs BINARY [--screenshots DIR]

import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { auditBothLanguages } from "./audit.mjs";
import { check, freePort, freshCode, invitationLink, launchBrowser, mailsTo, screenshot, sleep, tally, testService } from "./harness.mjs";
import { getDocument } from "pdfjs-dist/legacy/build/pdf.mjs";

const binary = resolve(process.argv[2] ?? "../target/debug/iro-advice");
const shotsAt = process.argv.indexOf("--screenshots");
const shots = shotsAt > 0 ? resolve(process.argv[shotsAt + 1]) : null;
const work = mkdtempSync(join(tmpdir(), "iro-advice-console-"));
const PASSWORD = "correct horse battery staple 42";
const PASSPHRASE = "lantern orchard pebble violet harbour";
const NARRATIVE = "The service manager said a referral to Cafcass would end my contract.";
const { nairoKey, nairoRecipient, smtp, url, api, service, operator } = await testService(binary, work, "allow_demo_data = true\n");

// A synthetic year and a half (2024-07 to 2025-12) and its releases, frozen before the service starts.
operator("demo", "seed", "--iros", "250", "--queries", "2000", "--from", "2024-07", "--until", "2026-01", "--seed", "3");
operator("stats", "release");

// NAIRO's witness, as NAIRO would run it: it needs the log's key (made at the service's first
// start), and the service then asks it to cosign every checkpoint.
await service.start();
const logKey = (await api("GET", "/api/v1/log/key")).text.trim();
await service.stop();
const witnessDir = join(work, "witness");
const witnessKey = operator("witness", "init", "--data-dir", witnessDir, "--name", "nairo.test/witness").trim().split("\n").pop();
const witnessPort = await freePort();
const witness = spawn(binary, ["witness", "serve", "--data-dir", witnessDir, "--listen", `127.0.0.1:${witnessPort}`, "--log", logKey], { env: service.env, stdio: "ignore" });
service.env.IRO_ADVICE_WITNESS_URL = `http://127.0.0.1:${witnessPort}`;
service.env.IRO_ADVICE_WITNESS_KEY = witnessKey;
await service.start();
// Pages are served a checkpoint once the witness has cosigned one.
for (let i = 0; (await api("GET", "/api/v1/log/checkpoint")).status !== 200; i++) {
  if (i > 300) throw new Error("the witness never cosigned a checkpoint");
  await sleep(100);
}

const browser = await launchBrowser();
const pageErrors = [];
let audited = 0;

async function newUser(name) {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, acceptDownloads: true });
  const page = await context.newPage();
  page.on("pageerror", (e) => pageErrors.push(`${name}: ${e.message}`));
  page.on("console", (msg) => {
    if (msg.type() === "error" && !/status of (401|403)/.test(msg.text())) pageErrors.push(`${name}: ${msg.text()}`);
  });
  return { name, context, page, secret: null };
}

async function audit(user, label) {
  const shoot = shots
    ? async (lang) => {
        mkdirSync(shots, { recursive: true });
        await screenshot(user.page, join(shots, `console-${user.name}-${label.replace(/\W+/g, "-")}${lang === "en" ? "" : `-${lang}`}.png`));
      }
    : null;
  await auditBothLanguages(user.page, label, check, shoot);
  audited++;
}

async function heading(page, text) {
  await page.getByRole("heading", { level: 1, name: text }).waitFor({ timeout: 30000 });
}

/// From an invitation to the console: account, authenticator, key, recovery file.
async function enrol(user, link, code, email, displayName, home) {
  const { page } = user;
  await page.goto(link);
  await heading(page, "Create your account");
  await page.getByLabel("Invitation code").fill(code);
  await page.getByLabel("Your name").fill(displayName);
  await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await page.getByLabel("Confirm password").fill(PASSWORD);
  await page.getByRole("button", { name: "Create account" }).click();
  await heading(page, "Sign in");
  await page.getByLabel("Email address").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await heading(page, "Set up your authenticator app");
  user.secret = (await page.locator("#totp-secret").textContent()).replace(/\s/g, "");
  await page.getByLabel("Enter the code it shows").fill(await freshCode(user.secret));
  await page.getByRole("button", { name: "Continue" }).click();
  await heading(page, "Set up your encryption key");
  await page.getByLabel("Key passphrase", { exact: true }).fill(PASSPHRASE);
  await page.getByLabel("Confirm key passphrase").fill(PASSPHRASE);
  await page.getByRole("button", { name: "Create my key" }).click();
  await heading(page, "Save your recovery file");
  const [file] = await Promise.all([page.waitForEvent("download"), page.getByRole("link", { name: "Download recovery file" }).click()]);
  await file.saveAs(join(work, `${user.name}-recovery.txt`));
  await page.getByRole("button", { name: "I have saved my recovery file" }).click();
  await heading(page, home);
  user.email = email;
}

/// The same account's API token, signed in apart from the page (with a code of its own).
async function tokenOf(user) {
  const res = await api("POST", "/api/v1/auth/login", { email: user.email, password: PASSWORD, totp_code: await freshCode(user.secret) });
  if (res.status !== 200) throw new Error(`login ${user.email}: ${res.status} ${res.text}`);
  return res.json.access_token;
}

/// The administrator's API token, signed in once: each sign-in spends a code, and a third code
/// within a time step would wait for the next.
let adminApiToken = null;
const asAdmin = async () => (adminApiToken ??= await tokenOf(admin));

/// An IRO made through the API alone: account, authenticator and key, ready to report.
async function apiIro(link, code, email, name, { key = true } = {}) {
  const token = link.split("#")[1];
  const made = await api("POST", "/api/v1/accounts", { invitation: token, code, password: PASSWORD, display_name: name });
  if (made.status !== 201) throw new Error(`account: ${made.status} ${made.text}`);
  let access = (await api("POST", "/api/v1/auth/login", { email, password: PASSWORD })).json.access_token;
  const enrolment = (await api("POST", "/api/v1/me/totp", undefined, access)).json;
  await api("POST", "/api/v1/me/totp/confirm", { code: await freshCode(enrolment.secret) }, access);
  access = (await api("POST", "/api/v1/auth/login", { email, password: PASSWORD, totp_code: await freshCode(enrolment.secret) })).json.access_token;
  const generated = spawnSync("age-keygen", [], { encoding: "utf8" });
  const recipient = generated.stdout.match(/age1[0-9a-z]+/)[0];
  const put = await api("PUT", "/api/v1/me/key", { age_recipient: recipient }, access);
  if (!key) return { access, put, id: made.json.id, email, secret: enrolment.secret };
  if (put.status !== 204) throw new Error(`key: ${put.status} ${put.text}`);
  return { access, recipient, id: made.json.id, email, secret: enrolment.secret };
}

const admin = await newUser("admin");
const nairo = await newUser("nairo");
try {
  // --- the administrator ---------------------------------------------------------------
  const printed = operator("admin", "invite", "--role", "admin", "--email", "ops@console.invalid").trim().split("\n").pop();
  const [adminToken, adminCode] = printed.split(".");
  await enrol(admin, `${url}/open#${adminToken}`, adminCode, "ops@console.invalid", "Morgan Operator", "Accounts");
  await audit(admin, "accounts");
  const p = admin.page;

  // Invite a NAIRO reviewer: the code is shown once, the link goes by mail.
  await p.getByRole("link", { name: "Invite someone" }).click();
  await heading(p, "Invite someone");
  await p.getByRole("button", { name: "Send invitation" }).click();
  await p.getByRole("alert").waitFor();
  check((await p.getByRole("alert").getByRole("link").count()) === 2, "an empty invitation lists its two missing answers");
  await audit(admin, "invite with errors");
  await p.getByLabel("NAIRO", { exact: true }).check();
  await p.getByLabel("Email address").fill("reviewer@nairo.invalid");
  await p.getByRole("button", { name: "Send invitation" }).click();
  await p.getByRole("heading", { name: "Invitation sent" }).waitFor();
  const nairoCode = (await p.locator("#invitation-code").textContent()).trim();
  check(/^[0-9A-Z]{5}-[0-9A-Z]{5}$/.test(nairoCode), "the invitation's code is shown to the inviter, in its 10-character form");
  const nairoLink = await invitationLink("reviewer@nairo.invalid");
  check(nairoLink.startsWith(`${url}/open#`), "the invitee's mail carries the link");
  await audit(admin, "invitation sent");

  // An IRO in Herefordshire, invited in the page and then signed up through the API.
  await p.getByLabel("IRO", { exact: true }).check();
  await p.getByLabel("Email address").fill("jo.iro@console.invalid");
  await p.getByLabel("Local authority that employs the IRO").selectOption("E06000019");
  await p.getByRole("button", { name: "Send invitation" }).click();
  await p.getByText("jo.iro@console.invalid").waitFor();
  const iroCode = (await p.locator("#invitation-code").textContent()).trim();
  const iro = await apiIro(await invitationLink("jo.iro@console.invalid"), iroCode, "jo.iro@console.invalid", "Jo Iro");

  // Find the IRO, suspend (they are refused at once), reactivate (they get in again).
  await p.getByRole("link", { name: "Back to accounts" }).click();
  await heading(p, "Accounts");
  await p.getByLabel("Search").fill("jo.iro@");
  await p.getByText("Showing 1 of").waitFor();
  await p.getByRole("button", { name: "Suspend Jo Iro" }).click();
  await p.getByText("Jo Iro is suspended").waitFor();
  check((await api("GET", "/api/v1/me", undefined, iro.access)).status !== 200, "a suspended IRO's token is refused at once");
  await audit(admin, "accounts, one suspended");
  await p.getByRole("button", { name: "Reactivate Jo Iro" }).click();
  await p.getByText("Jo Iro can sign in again").waitFor();
  check((await api("GET", "/api/v1/me", undefined, await tokenOf(iro))).status === 200, "a reactivated IRO signs in again");

  // A solicitor, invited in Welsh: the mail is in Welsh, and so is the account until they
  // choose. The administrator then checks their SRA number.
  await p.getByRole("link", { name: "Invite someone" }).click();
  await p.getByLabel("Adviser", { exact: true }).check();
  await p.getByLabel("Solicitor", { exact: true }).check();
  await p.getByLabel("Email address").fill("alex.solicitor@console.invalid");
  await p.getByLabel("Welsh", { exact: true }).check();
  await p.getByRole("button", { name: "Send invitation" }).click();
  await p.getByText("alex.solicitor@console.invalid").waitFor();
  const solicitorCode = (await p.locator("#invitation-code").textContent()).trim();
  const solicitorLink = await invitationLink("alex.solicitor@console.invalid");
  const welsh = mailsTo("alex.solicitor@console.invalid")[0];
  check(welsh.includes("Subject: Mae rhywbeth yn aros amdanoch") && welsh.includes("Mewngofnodwch i'w weld") && !welsh.includes("Something is waiting"), "an invitation in Welsh is mailed in Welsh, subject and body");
  const solicitor = await apiIro(solicitorLink, solicitorCode, "alex.solicitor@console.invalid", "Alex Solicitor");
  check((await api("GET", "/api/v1/me", undefined, solicitor.access)).json.language === "cy", "the account reads the service in the invitation's language");
  await p.getByRole("link", { name: "Back to accounts" }).click();
  await heading(p, "Accounts");
  await p.getByLabel("Search").fill("alex.solicitor@");
  await p.getByText("Showing 1 of").waitFor();
  check(await p.getByText("Not checked yet").isVisible(), "an adviser not yet checked is marked so");
  await p.getByRole("button", { name: "Check Alex Solicitor" }).click();
  await p.getByLabel("SRA number").fill("12a45");
  await p.getByRole("button", { name: "Mark as checked" }).click();
  await p.getByText("Enter the SRA number: 5 to 8 digits").first().waitFor();
  check((await api("GET", "/api/v1/accounts", undefined, await asAdmin())).json.find((a) => a.email === "alex.solicitor@console.invalid").verified_at === undefined, "a malformed SRA number checks nothing");
  await audit(admin, "checking a solicitor, a malformed number");
  await p.getByLabel("SRA number").fill("612 345");
  await p.getByRole("button", { name: "Mark as checked" }).click();
  await p.getByText("Alex Solicitor is marked as checked").waitFor();
  await p.getByText("SRA number 612345").waitFor();
  check(await p.getByText(/^Checked by Morgan Operator on \d+ \w+ \d{4}/).isVisible(), "the row says who checked the adviser and when");
  const checked = (await api("GET", "/api/v1/accounts", undefined, await asAdmin())).json;
  const alex = checked.find((a) => a.email === "alex.solicitor@console.invalid");
  const morgan = checked.find((a) => a.email === "ops@console.invalid");
  check(alex.sra_number === "612345" && alex.verified_by === morgan.id && alex.verified_at, "the service records the SRA number, the admin who checked it, and when");
  await audit(admin, "accounts, a solicitor checked");

  // Alex has lost their phone: the administrator resets their second step. Alex is signed
  // out everywhere, told by mail (in Welsh, their language), and must enrol again after the
  // password.
  const alexMails = mailsTo("alex.solicitor@console.invalid").length;
  await p.getByRole("button", { name: "Reset second step of Alex Solicitor" }).click();
  await p.getByText("Do this only when they have asked").waitFor();
  await audit(admin, "accounts, confirming a reset");
  await p.getByRole("button", { name: "Reset it" }).click();
  await p.getByText("The second step of Alex Solicitor is reset").waitFor();
  check((await api("GET", "/api/v1/me", undefined, solicitor.access)).status === 401, "after a reset, the owner's sessions are ended");
  const passwordOnly = (await api("POST", "/api/v1/auth/login", { email: "alex.solicitor@console.invalid", password: PASSWORD })).json.access_token;
  check((await api("GET", "/api/v1/queries", undefined, passwordOnly)).json?.type?.endsWith("second-factor-enrolment-required"), "the password alone now opens enrolment and nothing else");
  for (let i = 0; i < 100 && mailsTo("alex.solicitor@console.invalid").length === alexMails; i++) await new Promise((r) => setTimeout(r, 100));
  const told = mailsTo("alex.solicitor@console.invalid");
  check(told.length === alexMails, "nothing goes to the work address, the only one Alex gave: the employer's mail server reads it (the reset is in the log, and Alex meets it at the next sign-in)");

  // The service's status, as the operator on call reads it.
  await p.getByRole("link", { name: "Service status" }).click();
  await heading(p, "Service status");
  const ops = (await api("GET", "/api/v1/operations", undefined, await asAdmin())).json;
  const logLine = await p.locator("#ops-log-size").textContent();
  const [, leaves] = logLine.match(/holds (\d+) entries/);
  check(Number(leaves) > 0 && Number(leaves) <= ops.log_size, `the page shows the log's size (${leaves}; now ${ops.log_size})`);
  const storedLine = await p.locator("#ops-releases-stored").textContent();
  check(storedLine.startsWith(`${ops.releases.stored} releases; the newest is ${ops.releases.latest.period}`), `the page shows the releases made (${storedLine})`);
  const opsWitness = p.locator("#ops-witnesses tbody tr");
  const opsCells = await opsWitness.first().locator("td").allTextContents();
  check((await opsWitness.count()) === 1 && opsCells[0] === "nairo.test/witness" && opsCells[2] === "Cosigning" && Number(opsCells[1]) <= ops.witnesses[0].cosigned_size && Number(opsCells[1]) > 0, `the page shows the witness cosigning, and up to where (${opsCells.join(" | ")})`);
  check(/notices? (is|are) waiting to go|No notice is waiting/.test(await p.locator("#ops-pending").textContent()), "the page shows the mail outbox");
  await audit(admin, "service status");

  // --- the NAIRO reviewer ----------------------------------------------------------------
  await enrol(nairo, nairoLink, nairoCode, "reviewer@nairo.invalid", "Rhian Reviewer", "Statistics releases");
  const n = nairo.page;
  await audit(nairo, "statistics (default range)");
  await n.getByLabel("From month").fill("2025-01");
  await n.getByLabel("To month").fill("2025-12");
  await n.getByRole("button", { name: "Show figures" }).click();
  await n.getByRole("heading", { name: "Figures for 2025-Q4" }).waitFor();
  const nairoToken = await tokenOf(nairo);
  const query = "by=region&period=quarter&from=2025-01&to=2025-12";
  const served = (await api("GET", `/api/v1/stats/access?${query}`, undefined, nairoToken)).json;
  check(served.periods.length === 4, "the API serves the four quarters of 2025 from their releases");
  const regions = served.periods.at(-1).tables.find((t) => t.measure === "queries_by_category").rows.length;
  const shownRows = await n.locator("table", { has: n.locator("caption", { hasText: "Requests for advice by topic, 2025-Q4" }) }).locator("tbody tr").count();
  check(shownRows === regions + 1, `the page's topic table has every region of the release and the national row (${shownRows})`);
  // Every number in that table is the release's, "c" where it withholds one.
  const release = served.periods.at(-1).tables.find((t) => t.measure === "queries_by_category");
  const cells = await n.locator("table", { has: n.locator("caption", { hasText: "Requests for advice by topic, 2025-Q4" }) }).locator("tbody tr").evaluateAll((rows) => rows.map((r) => [...r.querySelectorAll("td")].map((td) => td.textContent.replace(/,/g, ""))));
  const expected = [...release.rows.map((r) => [...r.cells, r.total]), [...release.totals, release.total]].map((r) => r.map(String));
  check(JSON.stringify(cells) === JSON.stringify(expected), "the page shows exactly the release's numbers, c where withheld");
  check(expected.flat().includes("c") ? await n.getByText(/^c: withheld/).isVisible() : true, "withheld numbers are explained beside the tables");

  // A chart's table: opened, its numbers the release's ratio per region.
  const chart = n.locator("figure", { has: n.locator("figcaption", { hasText: "per 100 registered IROs, by region, 2025-Q4" }) });
  check((await chart.locator('svg[role="img"]').count()) === 1 && (await chart.locator("svg desc").textContent()).length > 10, "the chart is an image with a text description");
  await chart.getByText("Show the numbers as a table").click();
  const chartRows = await chart.locator("tbody tr").count();
  check(chartRows === regions && (await chart.locator("table").isVisible()), "the chart's table opens, a row per region");
  await audit(nairo, "statistics 2025 by quarter, chart table open");

  // The CSV, downloaded in the page, is the API's byte for byte.
  const [download] = await Promise.all([n.waitForEvent("download"), n.getByRole("button", { name: "Download these tables (CSV)" }).click()]);
  const csvFile = join(work, "page.csv");
  await download.saveAs(csvFile);
  const apiCsv = (await api("GET", `/api/v1/stats/access?${query}&format=csv`, undefined, nairoToken)).text;
  check(readFileSync(csvFile, "utf8") === apiCsv && apiCsv.split("\n").length > 100, "the downloaded CSV is the API's, byte for byte");

  // The annual report of an authority the 2025 release shows on its own, printed to PDF:
  // every number on it is one of the releases' (2025 and 2024), or a ratio of two of them.
  const yearOf = async (y) => (await api("GET", `/api/v1/stats/access?by=authority&period=year&from=${y}-01&to=${y}-12`, undefined, nairoToken)).json.periods[0];
  const [y2025, y2024] = [await yearOf(2025), await yearOf(2024)];
  // The authority standing alone with the most numbers shown (small numbers are mostly "c").
  const shownOf = (code) => y2025.tables.reduce((n, t) => n + (t.rows.find((r) => r.code === code)?.cells.filter((c) => c !== "c").length ?? 0), 0);
  const alone = y2025.tables[0].rows.filter((r) => r.code);
  check(alone.length > 0, `the 2025 release shows ${alone.length} authorities on their own`);
  const chosen = alone.sort((a, b) => shownOf(b.code) - shownOf(a.code))[0];
  await n.getByRole("link", { name: "Annual report" }).click();
  await heading(n, "Annual access report");
  await n.getByLabel("Area").selectOption(chosen.code);
  await n.getByRole("heading", { name: new RegExp(`Annual access report 2025\\s*${chosen.name}`) }).waitFor();
  await audit(nairo, "annual report of an authority");
  const pdf = await n.pdf({ format: "A4", printBackground: true });
  writeFileSync(join(work, "annual-report.pdf"), pdf);
  const doc = await getDocument({ data: new Uint8Array(pdf), useSystemFonts: false, isEvalSupported: false }).promise;
  let pdfText = "";
  for (let i = 1; i <= doc.numPages; i++) {
    const content = await (await doc.getPage(i)).getTextContent();
    pdfText += content.items.map((it) => it.str + (it.hasEOL ? "\n" : " ")).join("");
  }
  check(pdfText.includes("Annual access report 2025") && pdfText.includes(chosen.name) && !pdfText.includes("Print or save as PDF") && !pdfText.includes("Sign out"), "the printed report is the document alone: title and area, no page controls");
  const releases = (await api("GET", "/api/v1/stats/releases", undefined, nairoToken)).json.filter((r) => r.length === "year");
  let text = pdfText;
  for (const r of releases.filter((r) => ["2025", "2024"].includes(r.period))) {
    check(text.includes(r.sha256), `the report names release ${r.period} by its SHA-256`);
    text = text.replaceAll(r.sha256, " ");
  }
  const allowed = new Set(["2025", "2024", "1", "4", "5", "100", "256", ...releases.map((r) => String(r.leaf_index))]);
  const ratio = (part, whole, per) => (typeof part === "number" && typeof whole === "number" && whole > 0 ? Math.round((part * per * 10) / whole) / 10 : null);
  for (const year of [y2025, y2024]) {
    const row = (measure) => year?.tables.find((t) => t.measure === measure)?.rows.find((r) => r.code === chosen.code);
    for (const t of year?.tables ?? []) {
      const r = t.rows.find((x) => x.code === chosen.code);
      for (const c of r ? [...r.cells, r.total] : []) if (typeof c === "number") allowed.add(String(c));
    }
    const q = row("queries_by_category")?.total;
    for (const v of [ratio(q, row("registered_iros")?.total, 100), ratio(row("not_accepted_within_reminder_time")?.total, q, 100)]) if (v !== null) allowed.add(String(v));
  }
  const numbers = (text.match(/\d[\d,]*(\.\d+)?/g) ?? []).map((s) => s.replace(/,/g, ""));
  const strange = numbers.filter((x) => !allowed.has(x));
  const own = [...allowed].filter((x) => !["2025", "2024", "1", "4", "5", "100", "256"].includes(x) && !releases.some((r) => String(r.leaf_index) === x));
  check(own.some((x) => numbers.includes(x)), "the printed report carries the authority's own released numbers");
  check(strange.length === 0, `every number on the printed report is from the releases (${numbers.length} numbers${strange.length ? `; not from them: ${strange.join(", ")}` : ""})`);
  await n.getByRole("link", { name: "Statistics" }).click();
  await heading(n, "Statistics releases");

  // By authority, and a month: a bad month is refused in the form.
  await n.getByLabel("Local authority", { exact: true }).check();
  await n.getByLabel("Month", { exact: true }).check();
  await n.getByLabel("To month").fill("2025-13");
  await n.getByRole("button", { name: "Show figures" }).click();
  await n.getByRole("alert").waitFor();
  await audit(nairo, "statistics with a bad month");
  await n.getByLabel("To month").fill("2025-12");
  await n.getByRole("button", { name: "Show figures" }).click();
  await n.getByRole("heading", { name: "Figures for 2025-12" }).waitFor();
  await audit(nairo, "statistics 2025 by authority and month");

  // A pressure report shared with NAIRO, its narrative encrypted to the IRO and to NAIRO.
  const armored = spawnSync("age", ["-a", "-r", iro.recipient, "-r", nairoRecipient], { input: NARRATIVE, encoding: "utf8" }).stdout;
  const today = new Date().toISOString().slice(0, 10);
  const reported = await api("POST", "/api/v1/pressure-reports", { kind: "threatened_discipline", occurred_on: today, narrative: armored, share_with_nairo: true }, await tokenOf(iro));
  check(reported.status === 201, `the IRO's shared report is recorded (${reported.status})`);
  await n.getByRole("link", { name: "Shared reports" }).click();
  await heading(n, "Pressure reports shared with NAIRO");
  await n.getByText("encrypted to NAIRO's key").first().waitFor();
  await audit(nairo, "shared reports, locked");
  await n.getByLabel("NAIRO's key file").setInputFiles(nairoKey);
  await n.getByText(NARRATIVE).waitFor();
  const shared = n.getByRole("listitem").filter({ hasText: NARRATIVE });
  check((await shared.getByRole("heading").textContent()) === "I was threatened with discipline", "the shared report shows its kind beside its narrative");
  await audit(nairo, "shared reports, read with NAIRO's key");

  // The log's health: the newest checkpoint's size as this browser verified it, and its
  // growth read from the releases' own entries.
  await n.getByRole("link", { name: "The log", exact: true }).click();
  await heading(n, "The log's health");
  const shownSize = Number((await n.locator("#log-size").textContent()).match(/holds (\d+) entries/)[1]);
  const servedSize = Number((await api("GET", "/api/v1/log/checkpoint")).text.split("\n")[1]);
  check(shownSize > 0 && shownSize <= servedSize, `the page shows the verified checkpoint's size (${shownSize}; the service now serves ${servedSize})`);
  const growthRows = await n.locator("figure", { has: n.locator("figcaption", { hasText: "The log's size at each statistics release" }) }).locator("tbody tr").count();
  const allReleases = (await api("GET", "/api/v1/stats/releases", undefined, nairoToken)).json;
  check(growthRows === allReleases.length, `the log's growth has a bar per release (${growthRows})`);
  const witnessRow = n.locator("tr", { has: n.getByText("nairo.test/witness", { exact: true }) });
  check((await witnessRow.locator("time").count()) === 1, "the log page shows when NAIRO's witness cosigned the newest checkpoint");
  await audit(nairo, "the log's health");
  // NAIRO opens every entry of the log with its key, in the page.
  await n.getByLabel("NAIRO's key file").setInputFiles(nairoKey);
  await n.locator("#log-audit .notice").waitFor({ timeout: 120_000 });
  const audited = (await n.locator("#log-audit").textContent()).match(/All (\d+) entries checked: (\d+) opened with NAIRO's key/);
  check(audited !== null && Number(audited[1]) >= shownSize && Number(audited[2]) > 1000, `NAIRO's key opens every entry of the log, and each opening matches (${audited?.[0]})`);
  await audit(nairo, "the log's openings, checked with NAIRO's key");
  // NAIRO's own witness key, kept in the browser: the service asks it, and it cosigned.
  await n.getByLabel("Verifier key of NAIRO's witness").fill(witnessKey);
  await n.getByRole("button", { name: "Keep this key" }).click();
  check((await n.locator("#own-witness-state").textContent()).startsWith("The service asks NAIRO's witness, and it cosigned"), "the page confirms that NAIRO's own witness cosigned the newest checkpoint");
  await n.getByRole("button", { name: "Forget this key" }).click();

  // NAIRO keeps its own witness's key in the browser; when the service does not ask that
  // witness, the page raises it.
  await n.getByLabel("Verifier key of NAIRO's witness").fill("not a key");
  await n.getByRole("button", { name: "Keep this key" }).click();
  await n.getByText("Enter a verifier key").first().waitFor();
  await n.getByLabel("Verifier key of NAIRO's witness").fill("nairo.example/witness+0a1b2c3d+AUmW7ymT3oUHjwC0PYhqyO1A/B3dz3SkBUwtNYSU3hSs");
  await n.getByRole("button", { name: "Keep this key" }).click();
  const alarmText = await n.locator("#own-witness-state").textContent();
  check(alarmText.startsWith("The service no longer asks NAIRO's witness") && (await n.locator("#own-witness-state").getAttribute("role")) === "alert", "a witness the service does not ask is raised as an alert");
  await audit(nairo, "the log's health, NAIRO's witness not asked");
  await n.reload();
  await heading(n, "Unlock your key");
  await n.getByLabel("Key passphrase").fill(PASSPHRASE);
  await n.getByRole("button", { name: "Unlock", exact: true }).click();
  await n.getByRole("link", { name: "The log", exact: true }).click();
  await n.locator("#own-witness-state").waitFor();
  check((await n.locator("#own-witness-key").textContent()) === "nairo.example/witness+0a1b2c3d+AUmW7ymT3oUHjwC0PYhqyO1A/B3dz3SkBUwtNYSU3hSs", "the browser keeps NAIRO's witness key across visits");
  await n.getByRole("button", { name: "Forget this key" }).click();
  await n.getByLabel("Verifier key of NAIRO's witness").waitFor();

  // --- NAIRO nominates, the administrator approves ----------------------------------------
  const nominated = await api("POST", "/api/v1/invitations", { role: "iro", email: "sam.nominee@console.invalid", authority_code: "E06000019" }, nairoToken);
  check(nominated.status === 201, "NAIRO may invite an IRO (a nomination)");
  const nominee = await apiIro(await invitationLink("sam.nominee@console.invalid"), nominated.json.code, "sam.nominee@console.invalid", "Sam Nominee", { key: false });
  check(nominee.put.status === 403 && nominee.put.json.type.endsWith("awaiting-approval"), "a nomination sets up its second factor, and can do nothing else until approved");
  check((await api("GET", "/api/v1/me", undefined, nominee.access)).json.awaiting_approval === true, "the nominee's account says it awaits approval");
  await p.reload();
  await heading(p, "Unlock your key");
  await p.getByLabel("Key passphrase").fill(PASSPHRASE);
  await p.getByRole("button", { name: "Unlock", exact: true }).click();
  await heading(p, "Accounts");
  await p.getByLabel("Search").fill("nominee");
  await p.getByText("Nominated by NAIRO").waitFor();
  await audit(admin, "accounts, a nomination waiting");
  await p.getByRole("button", { name: "Approve Sam Nominee" }).click();
  await p.getByText("is approved and counts").waitFor();
  const listed = (await api("GET", "/api/v1/accounts", undefined, await asAdmin())).json.find((a) => a.email === "sam.nominee@console.invalid");
  check(listed && listed.approved_at !== null, "the nominee is approved on the service");

  // --- The operator drops the witness ------------------------------------------------------
  // Restarted without it (as after restoring an old database, which the witness would refuse
  // to cosign), the service serves checkpoints signed by the log alone and advertises a quorum
  // of none. NAIRO's browser pinned the witness on first use: it raises the alarm rather than
  // trusting less.
  await service.stop();
  delete service.env.IRO_ADVICE_WITNESS_URL;
  delete service.env.IRO_ADVICE_WITNESS_KEY;
  await service.start();
  check((await api("GET", "/api/v1/log/trust")).json.quorum === 0, "the service now advertises no witness");
  await n.reload();
  await heading(n, "Stop: the service's log has been rewritten");
  await n.getByText(/carries 0 of the 1 witness countersignatures this browser pinned/).waitFor();
  check(true, "the alarm says the pinned witness's countersignature is missing");
  await audit(nairo, "alarm (witness dropped)");

  check(pageErrors.length === 0, `no script error in any page${pageErrors.length ? `: ${pageErrors.join("; ")}` : ""}`);
} catch (e) {
  check(false, e.stack ?? String(e));
  if (shots) {
    mkdirSync(shots, { recursive: true });
    await admin.page.screenshot({ path: join(shots, "console-failure-admin.png"), fullPage: true }).catch(() => undefined);
    await nairo.page.screenshot({ path: join(shots, "console-failure-nairo.png"), fullPage: true }).catch(() => undefined);
  }
} finally {
  await browser.close().catch(() => undefined);
  service.kill();
  witness.kill();
  smtp.close();
}

console.log(`${audited} console pages audited in English and Welsh`);
if (tally.failures) {
  console.log(`${tally.failures} check(s) failed; the service's log is in ${service.logFile}`);
  process.exit(1);
}
rmSync(work, { recursive: true, force: true });
console.log("console e2e: all checks passed");
