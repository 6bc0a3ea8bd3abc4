//! How the client shows things to a person: aligned tables and short dates.

/// Rows aligned in columns, two spaces apart, the first row a heading.
pub fn table(rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = (0..rows.first().map_or(0, Vec::len))
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    rows.iter()
        .map(|r| {
            r.iter()
                .enumerate()
                .map(|(i, cell)| format!("{cell:<w$}", w = widths[i]))
                .collect::<Vec<_>>()
                .join("  ")
                .trim_end()
                .to_owned()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// An authority as a person knows it: its name, with the ONS code after it.
pub fn authority_name(code: &str) -> String {
    match iro_advice_model::authorities::all()
        .iter()
        .find(|a| a.code == code)
    {
        Some(a) => format!("{} ({code})", a.name),
        None => code.to_owned(),
    }
}

/// An RFC 3339 time to the minute, as a list shows it.
pub fn to_the_minute(time: &str) -> String {
    time.chars().take(16).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_columns() {
        let t = table(&[
            vec!["A".into(), "BB".into()],
            vec!["ccc".into(), "d".into()],
        ]);
        assert_eq!(t, "A    BB\nccc  d");
    }

    #[test]
    fn authorities_are_shown_by_name() {
        assert_eq!(authority_name("E06000019"), "Herefordshire (E06000019)");
        assert_eq!(authority_name("X1"), "X1");
    }
}
