//! The published form of a count and the rules of disclosure control, as the Department for
//! Education publishes children-looked-after statistics: a count from 1 to 4 is shown as `c`
//! (0 is shown); further cells are withheld so that none can be worked out from anything
//! published (chosen and audited jointly in [`release`](super::release)); national and
//! regional totals are rounded to a multiple of a setting, which can only widen what a
//! reader can work out.

pub use iro_advice_api::statistics::Cell;

/// Counts smaller than this (and above zero) are withheld.
pub const MIN_SHOWN: u64 = 5;

pub const RULE_PRIMARY: &str = "counts of 1 to 4 shown as c";
pub const RULE_SECONDARY: &str =
    "further cells shown as c so that none can be worked out from anything published";

/// The rounding rule, with the multiple written in.
pub fn rounding_rule(to: u64) -> String {
    format!("national and regional totals rounded to the nearest multiple of {to}")
}

/// Whether a count is withheld for itself (primary suppression).
pub fn primary(n: u64) -> bool {
    (1..MIN_SHOWN).contains(&n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_read_and_write_as_numbers_or_c() {
        assert_eq!(serde_json::to_string(&Cell::Suppressed).unwrap(), r#""c""#);
        assert_eq!(serde_json::to_string(&Cell::Count(7)).unwrap(), "7");
        let cells: Vec<Cell> = serde_json::from_str(r#"[0, "c", 12]"#).unwrap();
        assert_eq!(cells, [Cell::Count(0), Cell::Suppressed, Cell::Count(12)]);
        assert!(serde_json::from_str::<Cell>(r#""x""#).is_err());
        assert!(primary(1) && primary(4) && !primary(0) && !primary(5));
        assert_eq!(
            rounding_rule(5),
            "national and regional totals rounded to the nearest multiple of 5"
        );
    }
}
