//! The English and Welsh local authorities with children's services, from
//! `reference/authorities.csv` (mySociety, MIT licence; see reference/README.md).
//!
//! The list is compiled into the binary and is the source of truth; the server brings its
//! `authorities` table into line with it at every start so that SQL can join and group on it.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

/// The reference list as compiled in (see reference/README.md).
pub const CSV: &str = include_str!("../../../reference/authorities.csv");
/// The Welsh names of the Welsh authorities (see reference/README.md).
const WELSH_CSV: &str = include_str!("../../../reference/authorities-cy.csv");

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Authority {
    pub code: String,
    pub name: String,
    pub official_name: String,
    pub nation: String,
    pub region: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(rename = "population_2020")]
    pub population: i64,
}

/// Every authority, in code order.
pub fn all() -> &'static [Authority] {
    static LIST: OnceLock<Vec<Authority>> = OnceLock::new();
    LIST.get_or_init(|| {
        let mut reader = csv::Reader::from_reader(CSV.as_bytes());
        let mut list: Vec<Authority> = reader
            .deserialize()
            .collect::<Result<_, _>>()
            .expect("reference/authorities.csv is well-formed");
        list.sort_by(|a, b| a.code.cmp(&b.code));
        list
    })
}

/// An authority's name in Welsh, where it has one (the 22 Welsh authorities).
pub fn welsh_name(code: &str) -> Option<&'static str> {
    static NAMES: OnceLock<BTreeMap<String, String>> = OnceLock::new();
    NAMES
        .get_or_init(|| {
            #[derive(Deserialize)]
            struct Row {
                code: String,
                name_cy: String,
            }
            csv::Reader::from_reader(WELSH_CSV.as_bytes())
                .deserialize::<Row>()
                .map(|r| r.map(|r| (r.code, r.name_cy)))
                .collect::<Result<_, _>>()
                .expect("reference/authorities-cy.csv is well-formed")
        })
        .get(code)
        .map(String::as_str)
}

/// An ONS code of an authority in the reference list.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[cfg_attr(
    feature = "diesel",
    derive(diesel::AsExpression, diesel::FromSqlRow),
    diesel(sql_type = diesel::sql_types::Text)
)]
#[serde(transparent)]
pub struct AuthorityCode(String);

// A stored code that is no longer in the reference list is a corrupt row.
crate::vocabulary::stored_as_text!(AuthorityCode, |v| v.as_str(), |s| {
    AuthorityCode::parse(&s).map_err(|e| e.to_string())
});

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0:?} is not the ONS code of an English or Welsh authority with children's services")]
pub struct UnknownAuthority(pub String);

impl AuthorityCode {
    pub fn parse(code: &str) -> Result<Self, UnknownAuthority> {
        let code = code.trim().to_ascii_uppercase();
        all()
            .binary_search_by(|a| a.code.as_str().cmp(&code))
            .map(|_| AuthorityCode(code.clone()))
            .map_err(|_| UnknownAuthority(code))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn authority(&self) -> &'static Authority {
        let list = all();
        let i = list
            .binary_search_by(|a| a.code.as_str().cmp(&self.0))
            .expect("an AuthorityCode is always in the list");
        &list[i]
    }
}

impl fmt::Display for AuthorityCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for AuthorityCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        AuthorityCode::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_list_has_every_authority_once() {
        let list = all();
        assert_eq!(list.len(), 175);
        assert_eq!(list.iter().filter(|a| a.nation == "England").count(), 153);
        assert_eq!(list.iter().filter(|a| a.nation == "Wales").count(), 22);
        let mut codes: Vec<_> = list.iter().map(|a| &a.code).collect();
        codes.dedup();
        assert_eq!(codes.len(), 175);
        let bcp = AuthorityCode::parse("E06000058").unwrap();
        assert_eq!(bcp.authority().name, "Bournemouth, Christchurch and Poole");
    }

    #[test]
    fn every_welsh_authority_and_only_those_has_a_welsh_name() {
        let lines = WELSH_CSV.lines().skip(1).count();
        assert_eq!(lines, 22, "one Welsh name per Welsh authority");
        for a in all() {
            let name = welsh_name(&a.code);
            assert_eq!(name.is_some(), a.nation == "Wales", "{} {}", a.code, a.name);
        }
        assert_eq!(welsh_name("W06000015"), Some("Caerdydd"));
        assert_eq!(welsh_name("E06000019"), None);
    }

    #[test]
    fn codes_parse_only_when_listed() {
        assert_eq!(
            AuthorityCode::parse(" e06000019 ").unwrap().as_str(),
            "E06000019"
        );
        assert!(AuthorityCode::parse("E06999999").is_err());
        assert!(AuthorityCode::parse("").is_err());
        assert!(AuthorityCode::parse("Herefordshire").is_err());
    }
}
