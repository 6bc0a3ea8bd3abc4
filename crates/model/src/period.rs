//! Months and the periods a report is cut into. Periods are calendar months, quarters or
//! years in UTC, named `2026-03`, `2026-Q1` or `2026`: names that sort in time order within
//! one length as plain strings, which the report's SQL relies on.

use std::str::FromStr;

use chrono::{Datelike, NaiveDate};

use crate::vocabulary::string_enum;

string_enum!(
    /// What the rows of a report are.
    By {
        Authority = "authority",
        Region = "region",
    }
);

string_enum!(
    /// How long each period of a report is.
    PeriodLength {
        Month = "month",
        Quarter = "quarter",
        Year = "year",
    }
);

/// A calendar month as the API writes it: `YYYY-MM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Month {
    year: i32,
    month: u32,
}

impl FromStr for Month {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?} is not a month written YYYY-MM");
        let (y, m) = s.split_once('-').ok_or_else(bad)?;
        if y.len() != 4 || m.len() != 2 || !(y.chars().chain(m.chars())).all(|c| c.is_ascii_digit())
        {
            return Err(bad());
        }
        let (year, month): (i32, u32) =
            (y.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
        if !(1..=12).contains(&month) || !(2000..=2200).contains(&year) {
            return Err(bad());
        }
        Ok(Month { year, month })
    }
}

impl std::fmt::Display for Month {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl Month {
    pub fn of(date: NaiveDate) -> Self {
        Month {
            year: date.year(),
            month: date.month(),
        }
    }

    pub fn first_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, self.month, 1).expect("a parsed month exists")
    }

    pub fn next(self) -> Self {
        if self.month == 12 {
            Month {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Month {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    /// Months from `self` to `other`, counting both.
    pub fn span(self, other: Month) -> i64 {
        i64::from(other.year - self.year) * 12 + i64::from(other.month) - i64::from(self.month) + 1
    }

    fn quarter_start(self) -> Self {
        Month {
            year: self.year,
            month: (self.month - 1) / 3 * 3 + 1,
        }
    }
}

/// One period of a report: from `start` up to, not including, `end`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Period {
    pub key: String,
    pub start: NaiveDate,
    pub end: NaiveDate,
}

impl Period {
    /// How long the period is, read from the form of its name.
    pub fn length(&self) -> PeriodLength {
        if self.key.contains('Q') {
            PeriodLength::Quarter
        } else if self.key.len() == 4 {
            PeriodLength::Year
        } else {
            PeriodLength::Month
        }
    }

    /// Its months, in order.
    pub fn months(&self) -> Vec<Month> {
        let mut out = Vec::new();
        let mut m = Month::of(self.start);
        while m.first_day() < self.end {
            out.push(m);
            m = m.next();
        }
        out
    }

    /// The periods of `length` that lie within this one (a year's quarters, a quarter's
    /// months), in order.
    pub fn within(&self, length: PeriodLength) -> Vec<Period> {
        let months = self.months();
        match (months.first(), months.last()) {
            (Some(first), Some(last)) => length.periods(*first, *last),
            _ => Vec::new(),
        }
    }
}

impl FromStr for Period {
    type Err = String;
    /// `2026-03`, `2026-Q1` or `2026`.
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?} is not a period written YYYY-MM, YYYY-Qn or YYYY");
        let (length, first) = if let Some((y, q)) = s.split_once("-Q") {
            let q: u32 = match q {
                "1" | "2" | "3" | "4" => q.parse().map_err(|_| bad())?,
                _ => return Err(bad()),
            };
            let month: Month = format!("{y}-{:02}", (q - 1) * 3 + 1)
                .parse()
                .map_err(|_| bad())?;
            (PeriodLength::Quarter, month)
        } else if s.len() == 4 {
            (
                PeriodLength::Year,
                format!("{s}-01").parse().map_err(|_| bad())?,
            )
        } else {
            (PeriodLength::Month, s.parse().map_err(|_| bad())?)
        };
        length
            .periods(first, first)
            .into_iter()
            .next()
            .ok_or_else(bad)
    }
}

impl PeriodLength {
    /// The periods that cover `from` to `to`: a quarter is included when any of its months is.
    pub fn periods(self, from: Month, to: Month) -> Vec<Period> {
        let mut out = Vec::new();
        let mut month = match self {
            PeriodLength::Month => from,
            PeriodLength::Quarter => from.quarter_start(),
            PeriodLength::Year => Month {
                year: from.year,
                month: 1,
            },
        };
        while month <= to {
            let (key, next) = match self {
                PeriodLength::Month => (month.to_string(), month.next()),
                PeriodLength::Quarter => (
                    format!("{:04}-Q{}", month.year, (month.month - 1) / 3 + 1),
                    month.next().next().next(),
                ),
                PeriodLength::Year => (
                    format!("{:04}", month.year),
                    Month {
                        year: month.year + 1,
                        month: 1,
                    },
                ),
            };
            out.push(Period {
                key,
                start: month.first_day(),
                end: next.first_day(),
            });
            month = next;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_parse_strictly() {
        assert_eq!("2026-03".parse::<Month>().unwrap().to_string(), "2026-03");
        for bad in [
            "2026-3",
            "2026-13",
            "2026-00",
            "26-03",
            "2026/03",
            "2026-03-01",
            "",
            "abcd-ef",
        ] {
            assert!(bad.parse::<Month>().is_err(), "{bad}");
        }
    }

    #[test]
    fn periods_parse_from_their_names() {
        for (name, length, months) in [
            ("2026-03", PeriodLength::Month, 1),
            ("2026-Q2", PeriodLength::Quarter, 3),
            ("2026", PeriodLength::Year, 12),
        ] {
            let p: Period = name.parse().unwrap();
            assert_eq!(
                (p.key.as_str(), p.length(), p.months().len()),
                (name, length, months)
            );
        }
        let q: Period = "2026-Q2".parse().unwrap();
        assert_eq!(q.start.to_string(), "2026-04-01");
        assert_eq!(q.within(PeriodLength::Month)[2].key, "2026-06");
        for bad in ["2026-Q5", "2026-Q", "26", "2026-13", "Q1", ""] {
            assert!(bad.parse::<Period>().is_err(), "{bad}");
        }
    }

    #[test]
    fn quarters_cover_every_month_asked_for() {
        let p =
            PeriodLength::Quarter.periods("2025-11".parse().unwrap(), "2026-04".parse().unwrap());
        let keys: Vec<_> = p.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(keys, ["2025-Q4", "2026-Q1", "2026-Q2"]);
        assert_eq!(p[0].start.to_string(), "2025-10-01");
        assert_eq!(p[0].end.to_string(), "2026-01-01");
        let m = PeriodLength::Month.periods("2025-12".parse().unwrap(), "2026-01".parse().unwrap());
        assert_eq!(m.len(), 2);
        assert_eq!(m[1].key, "2026-01");
        assert_eq!(m[1].end.to_string(), "2026-02-01");
        let y = PeriodLength::Year.periods("2025-11".parse().unwrap(), "2026-01".parse().unwrap());
        assert_eq!(y.len(), 2);
        assert_eq!(y[1].key, "2026");
        assert_eq!(y[1].months().len(), 12);
        // Keys sort in time order, which the SQL's comparisons rely on.
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(sorted, keys);
    }
}
