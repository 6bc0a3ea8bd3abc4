//! The real client (`iro-advice client …`) as a user runs it: a process with a profile
//! directory of its own, the account's password from the environment, no terminal.

use std::path::{Path, PathBuf};

use serde_json::Value;
use tempfile::TempDir;

use crate::{binary, TestApp, User, PASSWORD};

/// One person's command-line client.
pub struct Client {
    pub profile: TempDir,
}

/// What a client command did.
pub struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    /// Its output when it succeeded, else what it said on stderr.
    pub fn result(self) -> Result<String, String> {
        if self.code == 0 {
            Ok(self.stdout)
        } else {
            Err(self.stderr)
        }
    }
}

impl Default for Client {
    fn default() -> Self {
        Client::new()
    }
}

impl Client {
    /// A client with an empty profile.
    pub fn new() -> Client {
        Client {
            profile: tempfile::tempdir().unwrap(),
        }
    }

    /// Signs `user` in (with the next TOTP code when the account has one); returns what
    /// login printed.
    pub fn login(app: &TestApp, user: &User, extra: &[&str]) -> (Client, String) {
        let client = Client::new();
        let ca = app.ca_path();
        let code = user.totp_secret.as_ref().map(|_| app.fresh_totp(user));
        let mut args = vec![
            "login",
            "--server",
            &app.base,
            "--email",
            &user.email,
            "--ca",
            ca.to_str().unwrap(),
        ];
        if let Some(code) = &code {
            args.extend_from_slice(&["--totp", code]);
        }
        args.extend_from_slice(extra);
        let out = client.ok(&args);
        (client, out)
    }

    /// Signs `user` in and makes their key.
    pub fn setup(app: &TestApp, user: &User) -> Client {
        let (client, _) = Client::login(app, user, &[]);
        client.ok(&["keygen"]);
        client
    }

    pub fn run(&self, args: &[&str]) -> Ran {
        let out = binary()
            .arg("client")
            .args(args)
            .arg("--profile-dir")
            .arg(self.profile.path())
            .env("IRO_ADVICE_PASSWORD", PASSWORD)
            .env_remove("IRO_ADVICE_IDENTITY_PASSPHRASE")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        Ran {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// The command's output, or its error message.
    pub fn attempt(&self, args: &[&str]) -> Result<String, String> {
        self.run(args).result()
    }

    /// The command's output; the test fails if it does.
    pub fn ok(&self, args: &[&str]) -> String {
        let ran = self.run(args);
        assert_eq!(ran.code, 0, "client {args:?}: {}", ran.stderr);
        ran.stdout
    }

    /// The command's `--json` output, parsed.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut with = args.to_vec();
        with.push("--json");
        serde_json::from_str(&self.ok(&with)).unwrap()
    }

    /// The profile's age identity.
    pub fn identity(&self) -> age::x25519::Identity {
        iro_advice_client::load_identity(&self.profile.path().join("identity.txt")).unwrap()
    }

    /// Writes a file into the profile directory (a body to send, say); returns its path.
    pub fn file(&self, name: &str, contents: &[u8]) -> PathBuf {
        let path = self.profile.path().join(name);
        std::fs::write(&path, contents).unwrap();
        path
    }

    pub fn path(&self) -> &Path {
        self.profile.path()
    }
}
