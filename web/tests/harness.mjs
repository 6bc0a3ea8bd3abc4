// What both browser tests share: a mail server on loopback that keeps every message, TOTP
// codes, an HTTPS client of the service, the service itself, and Chromium.

import { spawn, spawnSync } from "node:child_process";
import { createHmac } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { request as httpsRequest } from "node:https";
import { createServer } from "node:net";
import { chromium } from "playwright-core";

// --- checks -----------------------------------------------------------------------------

export const tally = { failures: 0 };

export function check(ok, what) {
  if (ok) console.log(`ok   ${what}`);
  else {
    tally.failures++;
    console.log(`FAIL ${what}`);
  }
}

// --- a mail server on loopback: enough SMTP for one relay, every message kept -----------

export const mails = [];
export function smtpServer() {
  return new Promise((resolvePort) => {
    const server = createServer((socket) => {
      let buffer = "";
      let data = false;
      let message = "";
      socket.write("220 e2e ESMTP\r\n");
      socket.on("data", (chunk) => {
        buffer += chunk.toString("utf8");
        let at;
        while ((at = buffer.indexOf("\r\n")) >= 0) {
          const line = buffer.slice(0, at);
          buffer = buffer.slice(at + 2);
          if (data) {
            if (line === ".") {
              data = false;
              mails.push(message.replace(/=\r\n/g, ""));
              message = "";
              socket.write("250 queued\r\n");
            } else message += (line.startsWith("..") ? line.slice(1) : line) + "\r\n";
            continue;
          }
          const verb = line.slice(0, 4).toUpperCase();
          if (verb === "EHLO") socket.write("250-e2e\r\n250 8BITMIME\r\n");
          else if (verb === "HELO") socket.write("250 e2e\r\n");
          else if (verb === "DATA") {
            data = true;
            socket.write("354 go on\r\n");
          } else if (verb === "QUIT") {
            socket.write("221 bye\r\n");
            socket.end();
          } else socket.write("250 ok\r\n");
        }
      });
      socket.on("error", () => undefined);
    });
    server.listen(0, "127.0.0.1", () => resolvePort(server));
  });
}

/// Every mail delivered to `email` so far, soft line breaks undone.
export const mailsTo = (email) => mails.filter((m) => m.includes(`To: ${email}`));

export async function invitationLink(email) {
  for (let i = 0; i < 300; i++) {
    const mail = mails.find((m) => m.includes(`To: ${email}`) && m.includes("/open#"));
    if (mail) {
      const at = mail.indexOf("https://");
      return mail.slice(at, mail.indexOf("/open#", at) + 6 + 43);
    }
    await sleep(100);
  }
  throw new Error(`no invitation mail for ${email}`);
}

// --- the service ------------------------------------------------------------------------

/** A page as a reader first meets it: the whole width, and at most its first 4,000 pixels
 * (the statistics pages run to 15,000), so that the book's pictures stay readable and small. */
export async function screenshot(page, path) {
  const height = await page.evaluate(() => document.documentElement.scrollHeight);
  const width = page.viewportSize()?.width ?? 1280;
  await page.screenshot({ path, fullPage: true, clip: { x: 0, y: 0, width, height: Math.min(height, 4000) } });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function freePort() {
  return new Promise((r) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => r(port));
    });
  });
}

export function totp(secret, at = Date.now() / 1000) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const c of secret.replace(/[\s=]/g, "").toUpperCase()) bits += alphabet.indexOf(c).toString(2).padStart(5, "0");
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(at / 30)));
  const mac = createHmac("sha1", key).update(counter).digest();
  const off = mac[mac.length - 1] & 15;
  return String((mac.readUInt32BE(off) & 0x7fffffff) % 1_000_000).padStart(6, "0");
}

/// A code for a time step no earlier code of this secret used (each is accepted once). The
/// service allows one step of clock drift, so a second code within a step is the next step's,
/// as an authenticator whose clock runs a little fast would show; only a third waits.
const lastStep = new Map();
export async function freshCode(secret) {
  for (;;) {
    const now = Math.floor(Date.now() / 30000);
    const step = Math.max(now, (lastStep.get(secret) ?? -1) + 1);
    if (step <= now + 1) {
      lastStep.set(secret, step);
      return totp(secret, step * 30);
    }
    await sleep(1000);
  }
}

/// An HTTPS client of the service at `url`, trusting its development certificate once it exists.
export function client(url, cert) {
  return function api(method, path, body, token, headers = {}) {
    return new Promise((resolveCall, reject) => {
      const data = body === undefined ? undefined : JSON.stringify(body);
      const req = httpsRequest(
        `${url}${path}`,
        {
          method,
          ca: existsSync(cert) ? readFileSync(cert) : undefined,
          headers: {
            ...(data ? { "Content-Type": "application/json" } : {}),
            ...(token ? { Authorization: `Bearer ${token}` } : {}),
            ...headers,
          },
        },
        (res) => {
          const chunks = [];
          res.on("data", (c) => chunks.push(c));
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            let json = null;
            try {
              json = text ? JSON.parse(text) : null;
            } catch {
              json = text;
            }
            resolveCall({ status: res.statusCode, headers: res.headers, json, text });
          });
        },
      );
      req.on("error", reject);
      if (data) req.write(data);
      req.end();
    });
  }
}

/// `iro-advice serve` on a test's data: started and waited for, stopped with SIGTERM, its
/// output kept for the test to write out when something fails.
export class Service {
  constructor(binary, env, api, cert, logFile) {
    Object.assign(this, { binary, env, api, cert, logFile, logged: [], process: null });
  }

  async start() {
    this.process = spawn(this.binary, ["serve"], { env: this.env, stdio: ["ignore", "pipe", "pipe"] });
    this.process.stdout.on("data", (d) => this.logged.push(d));
    this.process.stderr.on("data", (d) => this.logged.push(d));
    for (let i = 0; ; i++) {
      if (existsSync(this.cert)) {
        try {
          if ((await this.api("GET", "/healthz")).status === 200) return;
        } catch {
          // not listening yet
        }
      }
      if (i > 300 || this.process.exitCode !== null) {
        this.writeLog();
        throw new Error(`the service did not start: ${Buffer.concat(this.logged).toString()}`);
      }
      await sleep(100);
    }
  }

  async stop() {
    const exited = new Promise((r) => this.process.once("exit", r));
    this.process.kill("SIGTERM");
    await exited;
  }

  /// At the end, whatever happened.
  kill() {
    if (this.process && this.process.exitCode === null) this.process.kill("SIGTERM");
    this.writeLog();
  }

  writeLog() {
    writeFileSync(this.logFile, Buffer.concat(this.logged));
  }
}

/// Debian's Chromium, headless, with nothing it would fetch on its own.
export function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-quic", "--no-first-run"],
  });
}

/// Everything a browser test runs against, in `work`: NAIRO's key (made by `age-keygen`),
/// the test's mail server, and the service on a free loopback port under the `e2e` profile
/// (`toml` is added to its configuration), not yet started; `operator` runs the command line
/// on the service's host.
export async function testService(binary, work, toml = "") {
  const nairoKey = join(work, "nairo-identity.txt");
  const keygen = spawnSync("age-keygen", ["-o", nairoKey], { encoding: "utf8" });
  if (keygen.status !== 0) throw new Error(`age-keygen: ${keygen.stderr}`);
  const nairoRecipient = keygen.stderr.match(/age1[0-9a-z]+/)[0];
  const port = await freePort();
  const smtp = await smtpServer();
  // localhost, not 127.0.0.1: a passkey's relying party must be a domain, never an address.
  const url = `https://localhost:${port}`;
  const config = join(work, "config");
  mkdirSync(config);
  writeFileSync(join(config, "e2e.toml"), `[server]\ndev_certificate = true\n${toml}`);
  const env = {
    ...process.env,
    IRO_ADVICE_PROFILE: "e2e",
    IRO_ADVICE_CONFIG_DIR: config,
    IRO_ADVICE_DATA_DIR: join(work, "data"),
    IRO_ADVICE_LISTEN: `127.0.0.1:${port}`,
    IRO_ADVICE_METRICS_LISTEN: "",
    IRO_ADVICE_PUBLIC_URL: url,
    IRO_ADVICE_SMTP_URL: `smtp://127.0.0.1:${smtp.address().port}?tls=none`,
    IRO_ADVICE_MAIL_POLL_MS: "100",
    // Each act's entry published at once, so that the receipts pages can be checked as the
    // test goes; batched publication has an integration test of its own (tests/api/opaque.rs).
    IRO_ADVICE_LOG_PUBLISH_SECONDS: "0",
    IRO_ADVICE_LOG_LEVEL: "warn",
    IRO_ADVICE_NAIRO_RECIPIENT: nairoRecipient,
  };
  delete env.DATABASE_URL;
  const cert = join(work, "data", "tls", "dev-cert.pem");
  const api = client(url, cert);
  const service = new Service(binary, env, api, cert, join(work, "service.log"));
  const operator = (...args) => {
    const out = spawnSync(binary, args, { env, encoding: "utf8" });
    if (out.status !== 0) throw new Error(`iro-advice ${args.join(" ")}: ${out.stderr}`);
    return out.stdout;
  };
  return { nairoKey, nairoRecipient, smtp, url, env, cert, api, service, operator };
}
