//! The rows of a published table: every region, or every authority with a row of its own
//! grouped by region, each region followed by its other authorities together.
//!
//! An authority with fewer than 5 registered IROs at the end of a period has no row of its
//! own in that period: its numbers go into "Other authorities in <region>". The rule is the
//! same in SQL (an authority has its own row from the period its fifth IRO registered in)
//! and in the registered-IRO counts, which say the same thing.

use std::collections::{BTreeMap, HashMap};

pub use super::model::{
    AccessReport, AccessRequest, Area, By, Median, MedianRow, Medians, PeriodReport,
    ReportSettings, Row, Table, MIN_IROS_FOR_OWN_ROW, MIN_VALUES_FOR_MEDIAN, RULE_ENDED,
    RULE_MEDIANS, RULE_SMALL_AUTHORITIES,
};

/// The row an authority's facts go into in one period: the rule the SQL's `areas` table
/// applies too.
pub(super) fn area_key(
    by: By,
    code: &str,
    region: &str,
    registered: &HashMap<&str, u64>,
) -> String {
    match by {
        By::Region => region.to_owned(),
        By::Authority if registered.get(code).copied().unwrap_or(0) >= MIN_IROS_FOR_OWN_ROW => {
            code.to_owned()
        }
        By::Authority => format!("region:{region}"),
    }
}

/// The rows of one period: every region, or every authority with its own row grouped by
/// region and followed by the region's other authorities together.
pub(super) fn areas_for(
    by: By,
    authorities: &[(&str, &str, &str)],
    registered: &HashMap<&str, u64>,
) -> Vec<(String, Area)> {
    let mut regions: BTreeMap<&str, Vec<&(&str, &str, &str)>> = BTreeMap::new();
    for a in authorities {
        regions.entry(a.2).or_default().push(a);
    }
    let mut out = Vec::new();
    for (region, mut members) in regions {
        match by {
            By::Region => out.push((
                region.to_owned(),
                Area {
                    code: None,
                    name: region.to_owned(),
                    region: region.to_owned(),
                },
            )),
            By::Authority => {
                members.sort_by_key(|a| a.1);
                let (own, rest): (Vec<_>, Vec<_>) = members
                    .into_iter()
                    .partition(|(code, _, region)| area_key(by, code, region, registered) == *code);
                for (code, name, region) in own {
                    out.push((
                        code.to_string(),
                        Area {
                            code: Some(code.to_string()),
                            name: name.to_string(),
                            region: region.to_string(),
                        },
                    ));
                }
                if !rest.is_empty() {
                    out.push((
                        format!("region:{region}"),
                        Area {
                            code: None,
                            name: format!("Other authorities in {region}"),
                            region: region.to_owned(),
                        },
                    ));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_authorities_are_grouped_within_their_region() {
        let authorities = [
            ("E1", "Bigtown", "North"),
            ("E2", "Smallville", "North"),
            ("E3", "Midcity", "South"),
        ];
        let registered: HashMap<&str, u64> = [("E1", 5), ("E2", 4), ("E3", 7)].into();
        let areas = areas_for(By::Authority, &authorities, &registered);
        let names: Vec<&str> = areas.iter().map(|(_, a)| a.name.as_str()).collect();
        assert_eq!(names, ["Bigtown", "Other authorities in North", "Midcity"]);
        assert_eq!(areas[1].0, "region:North");
        let regions = areas_for(By::Region, &authorities, &registered);
        assert_eq!(regions.len(), 2);
    }
}
