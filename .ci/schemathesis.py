#!/usr/bin/env python3
"""Runs schemathesis against a live service, as every role and as nobody.

Starts `iro-advice serve` on loopback with a fresh SQLite database, creates one account of
each role through the API itself (an admin from the command line, TOTP enrolled where the
role needs it), gives the IRO and the adviser keys and a real query through the
command-line client, then runs `schemathesis run --checks all` once per role with that
role's token, and once without one. Exits non-zero if any run fails.

Usage: schemathesis.py BINARY [--max-examples N]
"""

import base64
import hashlib
import hmac
import json
import os
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
PASSWORD = "correct horse battery staple 42"
AUTHORITY = "E06000019"  # Herefordshire


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def totp(secret_b32, at):
    key = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8))
    counter = struct.pack(">Q", int(at // 30))
    digest = hmac.new(key, counter, hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    code = struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF
    return "%06d" % (code % 1_000_000)


class Service:
    def __init__(self, binary, work):
        self.binary = binary
        self.port = free_port()
        self.url = "https://127.0.0.1:%d" % self.port
        config = os.path.join(work, "config")
        os.makedirs(config)
        with open(os.path.join(config, "schemathesis.toml"), "w") as f:
            # Tokens that outlast the runs; a generated certificate; otherwise the defaults.
            f.write("[server]\ndev_certificate = true\nallow_demo_data = true\n"
                    "[accounts]\naccess_token_minutes = 240\n")
        self.env = dict(
            os.environ,
            IRO_ADVICE_PROFILE="schemathesis",
            IRO_ADVICE_CONFIG_DIR=config,
            IRO_ADVICE_DATA_DIR=os.path.join(work, "data"),
            # Invitations are read from the mail the service writes as files.
            IRO_ADVICE_MAIL_POLL_MS="100",
            IRO_ADVICE_LISTEN="127.0.0.1:%d" % self.port,
            IRO_ADVICE_METRICS_LISTEN="",
            IRO_ADVICE_PUBLIC_URL=self.url,
            IRO_ADVICE_LOG_LEVEL="warn",
            # Any well-formed X25519 recipient: NAIRO's key is only served here.
            IRO_ADVICE_NAIRO_RECIPIENT="age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p",
        )
        self.env.pop("DATABASE_URL", None)
        self.outbox = os.path.join(work, "data", "outbox")
        self.cert = os.path.join(work, "data", "tls", "dev-cert.pem")
        self.log = open(os.path.join(work, "service.log"), "w")
        self.process = subprocess.Popen([binary, "serve"], env=self.env,
                                        stdout=self.log, stderr=self.log)
        for _ in range(300):
            try:
                self.request("GET", "/healthz")
                return
            except (OSError, urllib.error.URLError):
                time.sleep(0.1)
        raise SystemExit("the service did not start: see %s" % self.log.name)

    def context(self):
        ctx = ssl.create_default_context(cafile=self.cert) if os.path.exists(self.cert) \
            else ssl._create_unverified_context()
        return ctx

    def request(self, method, path, body=None, token=None, expect=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", "Bearer " + token)
        try:
            with urllib.request.urlopen(req, context=self.context(), timeout=30) as res:
                status, text = res.status, res.read().decode()
        except urllib.error.HTTPError as e:
            status, text = e.code, e.read().decode()
        if expect is not None and status != expect:
            raise SystemExit("%s %s: expected %d, got %d: %s" % (method, path, expect, status, text))
        return json.loads(text) if text else None

    def invitation_link(self, email):
        """The token of the invitation link mailed to `email` (an .eml file)."""
        for _ in range(300):
            for name in os.listdir(self.outbox) if os.path.isdir(self.outbox) else []:
                with open(os.path.join(self.outbox, name)) as f:
                    text = f.read().replace("=\r\n", "").replace("=\n", "")
                if "To: " + email in text and "/open#" in text:
                    at = text.index("/open#") + len("/open#")
                    return text[at:at + 43]
            time.sleep(0.1)
        raise SystemExit("no invitation mail for %s" % email)

    def cli(self, *args, env=None):
        out = subprocess.run([self.binary, *args], env=dict(self.env, **(env or {})),
                             capture_output=True, text=True)
        if out.returncode != 0:
            raise SystemExit("iro-advice %s failed:\n%s%s" % (" ".join(args), out.stdout, out.stderr))
        return out.stdout

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)
        self.log.close()


class Account:
    """An account made through the API, signed in, with its second factor enrolled."""

    def __init__(self, service, role, token, needs_totp):
        self.service = service
        self.role = role
        self.email = "%s@schemathesis.invalid" % role
        created = service.request("POST", "/api/v1/accounts", {
            "invitation": token, "password": PASSWORD, "display_name": "Test %s" % role,
        }, expect=201)
        self.id = created["id"]
        self.secret = None
        self.token = self.login()
        if needs_totp:
            enrolment = service.request("POST", "/api/v1/me/totp", token=self.token, expect=200)
            self.secret = enrolment["secret"]
            # Each code is accepted once: enrol with the previous step's, sign in with later ones.
            self.step = time.time() - 30
            service.request("POST", "/api/v1/me/totp/confirm",
                            {"code": self.next_code()}, token=self.token, expect=204)
            self.token = self.login()

    def next_code(self):
        code = totp(self.secret, self.step)
        self.step += 30
        return code

    def login(self):
        body = {"email": self.email, "password": PASSWORD}
        if self.secret:
            body["totp_code"] = self.next_code()
        return self.service.request("POST", "/api/v1/auth/login", body, expect=200)["access_token"]

    def client(self, work, *args):
        profile = os.path.join(work, "profile-" + self.role)
        return self.service.cli("client", "--profile-dir", profile, *args,
                                env={"IRO_ADVICE_PASSWORD": PASSWORD})

    def client_login(self, work):
        args = ["login", "--server", self.service.url, "--email", self.email,
                "--ca", self.service.cert]
        if self.secret:
            args += ["--totp", self.next_code()]
        self.client(work, *args)


def setup(service, work):
    token = service.cli("admin", "invite", "--role", "admin",
                        "--email", "admin@schemathesis.invalid").strip().splitlines()[-1]
    admin = Account(service, "admin", token, needs_totp=True)

    def invite(role, **extra):
        # Two halves: the code the inviter is shown, and the link the invitee is mailed.
        body = dict(role=role, email="%s@schemathesis.invalid" % role, **extra)
        code = service.request("POST", "/api/v1/invitations", body, token=admin.token,
                               expect=201)["code"]
        return "%s.%s" % (service.invitation_link(body["email"]), code)

    # Every role enrols a second factor before anything else answers it.
    iro = Account(service, "iro", invite("iro", authority_code=AUTHORITY), needs_totp=True)
    adviser = Account(service, "adviser", invite("adviser", adviser_kind="solicitor"),
                      needs_totp=True)
    nairo = Account(service, "nairo", invite("nairo"), needs_totp=True)

    # Keys and a real query, through the command-line client, so that reads find something.
    for account in (iro, adviser):
        account.client_login(work)
        account.client(work, "keygen")
    question = os.path.join(work, "question.txt")
    with open(question, "w") as f:
        f.write("Synthetic question for the API conformance run.\n")
    iro.client(work, "ask", "--adviser", adviser.id, "--category", "placement",
               "--stage", "informal", "--urgency", "routine", "--body", question)
    return [admin, iro, adviser, nairo]


def schemathesis(service, token, label, max_examples, report_dir):
    command = [
        shutil.which("schemathesis") or os.path.join(os.path.dirname(sys.executable), "schemathesis"),
        "--config-file", os.path.join(HERE, "schemathesis.toml"), "--no-color",
        "run", service.url + "/api/v1/openapi.json",
        "--checks", "all",
        "--max-examples", str(max_examples),
        "--tls-verify", service.cert,
        "--report", "junit", "--report-dir", os.path.join(report_dir, label),
        "--seed", "20261125",
        "--workers", "1",
        "--generation-database", "none",
    ]
    if token:
        command += ["-H", "Authorization: Bearer " + token]
    print("== schemathesis as %s" % label, flush=True)
    return subprocess.run(command).returncode


def main():
    binary = sys.argv[1]
    max_examples = int(sys.argv[sys.argv.index("--max-examples") + 1]) \
        if "--max-examples" in sys.argv else 20
    work = tempfile.mkdtemp(prefix="iro-advice-schemathesis-")
    service = Service(binary, work)
    failed = []
    try:
        accounts = setup(service, work)
        for label, token in [("nobody", None)] + [(a.role, a.token) for a in accounts]:
            if schemathesis(service, token, label, max_examples, work) != 0:
                failed.append(label)
    finally:
        service.stop()
    if failed:
        print("schemathesis failed as: %s (service log: %s)" % (", ".join(failed),
                                                                os.path.join(work, "service.log")))
        sys.exit(1)
    shutil.rmtree(work, ignore_errors=True)
    print("schemathesis passed as nobody, admin, iro, adviser and nairo")


if __name__ == "__main__":
    main()
