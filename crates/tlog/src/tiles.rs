//! Tile names of C2SP tlog-tiles (https://c2sp.org/tlog-tiles): hash tiles
//! `tile/<L>/<N>[.p/<W>]` and entry bundles `tile/entries/<N>[.p/<W>]`, in their one canonical
//! form.

/// Hashes (or entries) in a full tile.
pub const WIDTH: u64 = 256;
/// Tree levels a tile spans.
pub const HEIGHT: u32 = 8;

/// A tile named by its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TileRef {
    /// None for an entry bundle, else the tile level.
    pub level: Option<u8>,
    pub index: u64,
    /// 1..=256; less than 256 for a partial tile.
    pub width: u64,
}

impl TileRef {
    /// Parses what follows `tile/`, accepting only the canonical form of each index.
    pub fn parse(tail: &str) -> Option<TileRef> {
        let mut parts: Vec<&str> = tail.split('/').collect();
        let first = parts.first().copied()?;
        let level = if first == "entries" {
            None
        } else {
            if first.is_empty()
                || first.len() > 2
                || !first.bytes().all(|b| b.is_ascii_digit())
                || (first.len() > 1 && first.starts_with('0'))
            {
                return None;
            }
            Some(first.parse::<u8>().ok().filter(|l| *l < 8)?)
        };
        parts.remove(0);
        // `…/NNN.p/W` names a partial tile of width W.
        let mut width = WIDTH;
        if parts.len() >= 2 && parts[parts.len() - 2].ends_with(".p") {
            let w = parts.pop()?;
            if w.is_empty() || w.starts_with('0') || !w.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            width = w.parse().ok().filter(|w| (1..WIDTH).contains(w))?;
            let last = parts.last_mut()?;
            *last = last.strip_suffix(".p")?;
        }
        let (last, groups) = parts.split_last()?;
        let mut index: u64 = 0;
        for (i, group) in groups.iter().enumerate() {
            let digits = group.strip_prefix('x')?;
            // A leading group of zeros is not canonical.
            if i == 0 && digits == "000" {
                return None;
            }
            index = index
                .checked_mul(1000)?
                .checked_add(three_digits(digits)?)?;
        }
        index = index.checked_mul(1000)?.checked_add(three_digits(last)?)?;
        Some(TileRef {
            level,
            index,
            width,
        })
    }

    /// The tile's path after `tile/`.
    pub fn path(&self) -> String {
        let mut groups = Vec::new();
        let mut n = self.index;
        loop {
            groups.push(format!("{:03}", n % 1000));
            n /= 1000;
            if n == 0 {
                break;
            }
        }
        groups.reverse();
        let last = groups.len() - 1;
        let mut path = match self.level {
            Some(l) => format!("{l}/"),
            None => "entries/".to_owned(),
        };
        for (i, g) in groups.iter().enumerate() {
            if i < last {
                path.push('x');
            }
            path.push_str(g);
            if i < last {
                path.push('/');
            }
        }
        if self.width < WIDTH {
            path.push_str(&format!(".p/{}", self.width));
        }
        path
    }

    /// How many leaves the log must hold for this tile to exist.
    pub fn leaves_needed(&self) -> Option<u64> {
        let end = self.index.checked_mul(WIDTH)?.checked_add(self.width)?;
        let shift = u32::from(self.level.unwrap_or(0)) * HEIGHT;
        end.checked_mul(1u64.checked_shl(shift)?)
    }
}

fn three_digits(s: &str) -> Option<u64> {
    (s.len() == 3 && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_the_specs() {
        // The examples of c2sp.org/tlog-tiles.
        let t = TileRef::parse("0/x001/x234/067").unwrap();
        assert_eq!(
            t,
            TileRef {
                level: Some(0),
                index: 1_234_067,
                width: 256
            }
        );
        assert_eq!(t.path(), "0/x001/x234/067");
        let p = TileRef::parse("0/x001/x234/067.p/8").unwrap();
        assert_eq!(p.width, 8);
        assert_eq!(p.path(), "0/x001/x234/067.p/8");
        let e = TileRef::parse("entries/000").unwrap();
        assert_eq!(e.level, None);
        assert_eq!(e.path(), "entries/000");
        assert_eq!(TileRef::parse("1/x001/000").unwrap().index, 1000);
        for bad in [
            "0/1",
            "0/0001",
            "0/x000/001",
            "0/067.p/256",
            "0/067.p/0",
            "0/067.p/08",
            "00/000",
            "9/000",
            "0/067/",
            "entries",
            "0/x1/000",
            "0/067.p",
        ] {
            assert_eq!(TileRef::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_tile_exists_once_the_log_holds_its_leaves() {
        let t = |level, index, width| TileRef {
            level,
            index,
            width,
        };
        assert_eq!(t(Some(0), 0, 256).leaves_needed(), Some(256));
        assert_eq!(t(Some(0), 1, 3).leaves_needed(), Some(259));
        assert_eq!(t(Some(1), 0, 2).leaves_needed(), Some(512));
        assert_eq!(t(None, 2, 256).leaves_needed(), Some(768));
        assert_eq!(t(Some(7), u64::MAX / 256, 256).leaves_needed(), None);
    }
}
