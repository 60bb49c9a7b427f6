//! Nanosecond timestamps to the ISO text the official tool prints (`ts`, `endts`).
//!
//! The official tool converts through a double (`ns / 1e9`) and rounds the fraction to
//! microseconds half-to-even, so the result is not "the nanoseconds rounded": it carries the
//! double's error (about 0.24 µs at 2020 epochs). A zero fraction is omitted entirely
//! (`2020-09-13T12:26:40`). Times are UTC, without a zone suffix.

/// Appends the ISO text of `ns` (nanoseconds since the epoch, UTC) to `out`.
pub fn write_iso(out: &mut String, ns: i64) {
    let (secs, micros) = split_like_a_double(ns);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    push_padded(out, y, 4);
    out.push('-');
    push_padded(out, i64::from(m), 2);
    out.push('-');
    push_padded(out, i64::from(d), 2);
    out.push('T');
    push_padded(out, sod / 3600, 2);
    out.push(':');
    push_padded(out, sod / 60 % 60, 2);
    out.push(':');
    push_padded(out, sod % 60, 2);
    if micros != 0 {
        out.push('.');
        push_padded(out, micros, 6);
    }
}

/// Seconds and microseconds of `ns`, computed through a double as the reference does.
fn split_like_a_double(ns: i64) -> (i64, i64) {
    let d = ns as f64 / 1e9;
    let mut whole = d.trunc();
    let mut frac = ((d - whole) * 1e6).round_ties_even();
    if frac >= 1e6 {
        frac -= 1e6;
        whole += 1.0;
    } else if frac < 0.0 {
        frac += 1e6;
        whole -= 1.0;
    }
    (whole as i64, frac as i64)
}

/// Proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Appends `v` (non-negative in practice) zero-padded to `width` digits.
fn push_padded(out: &mut String, v: i64, width: usize) {
    let mut digits = [b'0'; 20];
    let mut n = v.unsigned_abs();
    let mut i = digits.len();
    while n > 0 {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
    }
    let used = digits.len() - i;
    if v < 0 {
        out.push('-');
    }
    for _ in used..width {
        out.push('0');
    }
    for &b in &digits[i..] {
        out.push(char::from(b));
    }
}

#[cfg(test)]
mod tests {
    use super::write_iso;

    fn iso(ns: i64) -> String {
        let mut s = String::new();
        write_iso(&mut s, ns);
        s
    }

    #[test]
    fn matches_the_reference_rounding() {
        assert_eq!(iso(1_588_262_421_405_814_505), "2020-04-30T16:00:21.405814");
        assert_eq!(iso(1_588_262_421_405_686_877), "2020-04-30T16:00:21.405687");
        assert_eq!(iso(1_600_000_000_000_000_000), "2020-09-13T12:26:40");
        assert_eq!(iso(1_600_000_000_000_000_499), "2020-09-13T12:26:40");
        assert_eq!(iso(0), "1970-01-01T00:00:00");
        assert_eq!(iso(-1500), "1969-12-31T23:59:59.999998");
        assert_eq!(iso(i64::MIN), "1677-09-21T00:12:43.145224");
        assert_eq!(iso(i64::MAX), "2262-04-11T23:47:16.854776");
    }
}
