//! One captured frame, borrowed from the capture.

use super::LinkType;

/// A point in time, in nanoseconds since the Unix epoch (UTC).
///
/// pcapng allows resolutions finer than a nanosecond and offsets of any size; such
/// values are rounded down to the nanosecond and saturate at the `i64` range
/// (years 1677..2262), which no real capture leaves.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// From whole seconds and a sub-second fraction in nanoseconds.
    pub fn from_parts(secs: i64, nanos: i64) -> Timestamp {
        Timestamp(secs.saturating_mul(1_000_000_000).saturating_add(nanos))
    }

    /// Seconds as a float (for rates and durations, never for identity).
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }

    /// Nanoseconds from `earlier` to `self`, zero if `earlier` is later.
    pub fn nanos_since(self, earlier: Timestamp) -> u64 {
        self.0.saturating_sub(earlier.0).max(0) as u64
    }

    /// RFC 3339 in UTC with microseconds, e.g. `2026-11-28T07:45:41.123456Z`:
    /// the timestamp format of Suricata's EVE and of our JSON Lines.
    pub fn to_rfc3339(self) -> String {
        self.rfc3339().as_str().to_owned()
    }

    /// [`to_rfc3339`](Timestamp::to_rfc3339) without an allocation: the text is
    /// written digit by digit into a buffer on the stack (this runs for every
    /// flow record). The `i64` nanosecond range spans the years 1677..2262,
    /// so the year always has four digits.
    pub fn rfc3339(self) -> Rfc3339 {
        let secs = self.0.div_euclid(1_000_000_000);
        let micros = self.0.rem_euclid(1_000_000_000) / 1000;
        let days = secs.div_euclid(86_400);
        let tod = secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        let mut b = *b"0000-00-00T00:00:00.000000Z";
        let put = |b: &mut [u8; 27], at: usize, width: usize, mut v: u64| {
            for i in (0..width).rev() {
                b[at + i] = b'0' + (v % 10) as u8;
                v /= 10;
            }
        };
        put(&mut b, 0, 4, y.clamp(0, 9999) as u64);
        put(&mut b, 5, 2, u64::from(m));
        put(&mut b, 8, 2, u64::from(d));
        put(&mut b, 11, 2, (tod / 3600) as u64);
        put(&mut b, 14, 2, ((tod / 60) % 60) as u64);
        put(&mut b, 17, 2, (tod % 60) as u64);
        put(&mut b, 20, 6, micros as u64);
        Rfc3339(b)
    }
}

/// A [`Timestamp`] as RFC 3339 text, held on the stack.
#[derive(Clone, Copy)]
pub struct Rfc3339([u8; 27]);

impl Rfc3339 {
    /// The text.
    pub fn as_str(&self) -> &str {
        // Only ASCII digits and separators are ever written.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl std::fmt::Display for Timestamp {
    /// RFC 3339 in UTC with microseconds, as the records print it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.rfc3339().as_str())
    }
}

impl serde::Serialize for Timestamp {
    /// As its RFC 3339 text (the records' `timestamp`).
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.rfc3339().as_str())
    }
}

/// Proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`, which is exact over the whole `i64` second range we use).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// One packet record of a capture.
///
/// `data` borrows from the capture's bytes: the link-layer frame as captured, cut to
/// the captured length and without a trailing FCS when the interface declared one.
#[derive(Clone, Copy, Debug)]
pub struct Frame<'a> {
    /// The 1-based frame number Wireshark shows. Every piece of evidence refers to it.
    pub index: u64,
    /// When the frame was captured.
    pub ts: Timestamp,
    /// Link-layer type of the interface it was captured on.
    pub link_type: LinkType,
    /// The captured bytes (possibly shorter than `orig_len`: snap length).
    pub data: &'a [u8],
    /// The length of the frame on the wire.
    pub orig_len: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_formats_utc_with_micros() {
        assert_eq!(Timestamp(0).to_rfc3339(), "1970-01-01T00:00:00.000000Z");
        let t = Timestamp::from_parts(1_795_851_941, 123_456_789);
        assert_eq!(t.to_rfc3339(), "2026-11-28T07:45:41.123456Z");
        assert_eq!(Timestamp(-1).to_rfc3339(), "1969-12-31T23:59:59.999999Z");
        let leap = Timestamp::from_parts(951_782_400, 0);
        assert_eq!(leap.to_rfc3339(), "2000-02-29T00:00:00.000000Z");
    }
}
