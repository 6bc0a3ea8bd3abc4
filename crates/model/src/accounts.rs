//! Account vocabulary, parsed at the edge so that code further in holds only valid values.

use std::fmt;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::vocabulary::{id_type, string_enum};

id_type!(
    /// An account.
    AccountId
);

id_type!(
    /// A signed-in session of an account.
    SessionId
);

string_enum!(
    /// What an account may do.
    Role { Iro = "iro", Adviser = "adviser", Nairo = "nairo", Admin = "admin" }
);

string_enum!(
    /// A solicitor (SRA-regulated) or a peer adviser (an IRO of another authority).
    AdviserKind { Solicitor = "solicitor", Peer = "peer" }
);

string_enum!(
    AccountStatus { Active = "active", Suspended = "suspended" }
);

string_enum!(
    /// The language an account reads the service in: English, or Welsh (the Welsh Language
    /// Standards bind the 22 Welsh authorities, and so a service their IROs use).
    Language { En = "en", Cy = "cy" }
);

/// A solicitor's number with the Solicitors Regulation Authority (the "SRA ID" on the
/// register), as the operator read it there: digits only, spaces ignored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct SraNumber(String);

impl SraNumber {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let digits: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
        if (5..=8).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
            Ok(SraNumber(digits))
        } else {
            Err("is not an SRA number (5 to 8 digits, as on the SRA's register)".to_owned())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for SraNumber {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        SraNumber::parse(&raw).map_err(|e| serde::de::Error::custom(format!("sra_number {e}")))
    }
}

/// An email address, trimmed and lower-cased, so that one person has one spelling.
#[derive(Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let email = raw.trim().to_lowercase();
        let invalid = || "is not an email address".to_owned();
        if email.len() > 254 || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid());
        }
        let (local, domain) = email.split_once('@').ok_or_else(invalid)?;
        if local.is_empty() || domain.is_empty() || domain.contains('@') || !domain.contains('.') {
            return Err(invalid());
        }
        if domain.starts_with('.') || domain.ends_with('.') {
            return Err(invalid());
        }
        // lettre must accept it too, or the invitation could never be delivered.
        email.parse::<lettre::Address>().map_err(|_| invalid())?;
        Ok(Email(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

// Email addresses are personal data: they never print themselves into a log.
impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Email([redacted])")
    }
}

impl<'de> Deserialize<'de> for Email {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Email::parse(&raw).map_err(|e| serde::de::Error::custom(format!("email {e}")))
    }
}

/// A password as typed; checked for length, never printed.
#[derive(Clone)]
pub struct Password(String);

pub const MIN_PASSWORD_CHARS: usize = 12;

/// The shortest passphrase that may wrap an identity kept by the service (the page asks the
/// same).
pub const MIN_IDENTITY_PASSPHRASE: usize = 20;
const MAX_PASSWORD_BYTES: usize = 1024;

impl Password {
    pub fn new(raw: String) -> Result<Self, String> {
        if raw.chars().count() < MIN_PASSWORD_CHARS {
            return Err(format!(
                "password must be at least {MIN_PASSWORD_CHARS} characters"
            ));
        }
        if raw.len() > MAX_PASSWORD_BYTES {
            return Err(format!(
                "password must be at most {MAX_PASSWORD_BYTES} bytes"
            ));
        }
        Ok(Password(raw))
    }

    /// Any string, for checking a login attempt (a short one simply fails to verify).
    pub fn attempt(raw: String) -> Self {
        Password(raw)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn equals_email(&self, email: &Email) -> bool {
        self.0.trim().to_lowercase() == email.as_str()
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password([redacted])")
    }
}

/// A name shown to other users: 1 to 100 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct DisplayName(String);

impl DisplayName {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let name = raw.trim();
        let chars = name.chars().count();
        if chars == 0 || chars > 100 || name.chars().any(char::is_control) {
            return Err(
                "display_name must be 1 to 100 characters, without control characters".into(),
            );
        }
        Ok(DisplayName(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for DisplayName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        DisplayName::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// An age X25519 recipient (`age1…`), checked by the age crate itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(transparent)]
pub struct AgeRecipient(String);

impl AgeRecipient {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        raw.parse::<age::x25519::Recipient>()
            .map(|r| AgeRecipient(r.to_string()))
            .map_err(|_| "age_recipient is not an age X25519 recipient (age1…)".to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for AgeRecipient {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        AgeRecipient::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(
            Email::parse("  Jo.Bloggs@Example.ORG ").unwrap().as_str(),
            "jo.bloggs@example.org"
        );
        for bad in [
            "",
            "jo",
            "jo@",
            "@x.org",
            "jo@x",
            "jo x@y.org",
            "a@b@c.org",
            "jo@.org",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            format!("{:?}", Email::parse("jo@x.org").unwrap()),
            "Email([redacted])"
        );
    }

    #[test]
    fn passwords_need_twelve_characters_and_never_print() {
        assert!(Password::new("short".into()).is_err());
        assert!(Password::new("elevenchars".into()).is_err());
        let p = Password::new("twelve chars".into()).unwrap();
        assert!(!format!("{p:?}").contains("twelve"));
        let email = Email::parse("Twelve.Chars@x.org").unwrap();
        assert!(Password::new("twelve.chars@x.org".into())
            .unwrap()
            .equals_email(&email));
    }

    #[test]
    fn sra_numbers_are_digits_from_the_register() {
        assert_eq!(SraNumber::parse(" 123 456 ").unwrap().as_str(), "123456");
        for bad in ["", "1234", "123456789", "12a456", "SRA123456", "-12345"] {
            assert!(SraNumber::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn roles_round_trip() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>().unwrap(), *role);
        }
        assert!("root".parse::<Role>().is_err());
    }

    #[test]
    fn age_recipients_are_checked_by_age() {
        let id = age::x25519::Identity::generate();
        let r = id.to_public().to_string();
        assert_eq!(AgeRecipient::parse(&r).unwrap().as_str(), r);
        assert!(AgeRecipient::parse("age1notakey").is_err());
        assert!(AgeRecipient::parse(&r[..r.len() - 1]).is_err());
    }
}
