//! The `authorities` table, kept in line with the reference list compiled into the binary
//! ([`iro_advice_model::authorities`]) so that SQL can join and group on it.

use std::collections::BTreeMap;

use diesel::prelude::*;
use iro_advice_model::authorities::{all, Authority, CSV};
use sha2::{Digest, Sha256};

use crate::db::schema::authorities;
use crate::db::{meta, write_transaction, DbConnection};

const SYNCED_KEY: &str = "authorities_sha256";

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Insertable, Selectable)]
#[diesel(table_name = authorities)]
struct Row {
    code: String,
    name: String,
    official_name: String,
    nation: String,
    region: String,
    kind: String,
    population: i64,
}

impl From<&Authority> for Row {
    fn from(a: &Authority) -> Self {
        Row {
            code: a.code.clone(),
            name: a.name.clone(),
            official_name: a.official_name.clone(),
            nation: a.nation.clone(),
            region: a.region.clone(),
            kind: a.kind.clone(),
            population: a.population,
        }
    }
}

fn fingerprint() -> String {
    let digest = Sha256::digest(CSV.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Brings the table into line with the reference list; a no-op when it already is.
/// Rows are updated in place, never deleted, because other tables refer to them.
pub fn sync(conn: &mut DbConnection) -> QueryResult<usize> {
    let wanted = fingerprint();
    if meta::get(conn, SYNCED_KEY)?.as_deref() == Some(wanted.as_str()) {
        return Ok(0);
    }
    write_transaction(conn, |conn| {
        let stored: BTreeMap<String, Row> = authorities::table
            .select(Row::as_select())
            .load(conn)?
            .into_iter()
            .map(|a| (a.code.clone(), a))
            .collect();
        let mut changed = 0;
        for authority in all().iter().map(Row::from) {
            match stored.get(&authority.code) {
                Some(existing) if *existing == authority => {}
                Some(_) => {
                    diesel::update(authorities::table.find(&authority.code))
                        .set((
                            authorities::name.eq(&authority.name),
                            authorities::official_name.eq(&authority.official_name),
                            authorities::nation.eq(&authority.nation),
                            authorities::region.eq(&authority.region),
                            authorities::kind.eq(&authority.kind),
                            authorities::population.eq(authority.population),
                        ))
                        .execute(conn)?;
                    changed += 1;
                }
                None => {
                    diesel::insert_into(authorities::table)
                        .values(&authority)
                        .execute(conn)?;
                    changed += 1;
                }
            }
        }
        meta::set(conn, SYNCED_KEY, &wanted)?;
        Ok(changed)
    })
}
