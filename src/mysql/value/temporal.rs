//! DATE, DATETIME, TIMESTAMP and TIME literals. TIMESTAMPs are written in UTC (the applier's time zone); zero
//! dates and zero parts are legal MySQL values and kept; anything out of range is an error, never clamped.
//!
//! Also the workaround for mysql_common's TIME(1)/TIME(2) decoding bug: it probes the linked version once, so it
//! stays inert when that version is fixed.

use std::fmt::Write as _;
use std::sync::OnceLock;

use mysql_common::binlog::value::BinlogValue;
use mysql_common::constants::ColumnType;
use mysql_common::io::ParseBuf;
use mysql_common::value::Value;

use super::Reason;

/// mysql_common 0.37.3 decodes a negative TIME(1)/TIME(2) with a fraction wrongly (a u32 underflow in
/// `my_time_packed_from_binary`: garbage in release builds, a panic in debug ones). Probe the linked version once
/// with '-00:00:01.5' so that a fixed version is left alone.
pub(super) fn time2_decoder_is_buggy() -> bool {
    static BUGGY: OnceLock<bool> = OnceLock::new();
    *BUGGY.get_or_init(|| {
        let probe = std::panic::catch_unwind(|| {
            let ctx = (ColumnType::MYSQL_TYPE_TIME2, &[1u8][..], false, false);
            ParseBuf(&[0x7F, 0xFF, 0xFE, 0xCE]).parse::<BinlogValue<'_>>(ctx).ok()
        });
        match probe {
            Err(_) => true,
            Ok(Some(BinlogValue::Value(v))) => v == Value::Time(false, 26, 0, 63, 62, 16_277_216),
            Ok(_) => false,
        }
    })
}

/// Undoes that damage on (negative, hours, minutes, seconds, microseconds). The decoder adds 2^32 * 10^4
/// microseconds, which is 625 hours in the packed HMS bits minus the fraction: a value at or below -625h comes out
/// still negative but 625 hours short, one above -625h comes out positive with 10^6 or more microseconds.
pub(super) fn undo_time2_bug(t: (bool, u64, u8, u8, u32)) -> Option<(bool, u64, u8, u8, u32)> {
    const SHIFT: u64 = 625 << 12;
    let (neg, hours, i, s, us) = t;
    let hms = (hours << 12) | (u64::from(i) << 6) | u64::from(s);
    let real = if !neg && us >= 1_000_000 {
        (SHIFT.checked_sub(hms + 1)?, (1u32 << 24).checked_sub(us)?)
    } else if neg && us != 0 {
        (hms + SHIFT, us)
    } else {
        return Some(t);
    };
    let (hms, us) = real;
    Some((true, hms >> 12, ((hms >> 6) & 63) as u8, (hms & 63) as u8, us))
}

/// TIMESTAMP as UTC (the applier's time zone); epoch 0 is MySQL's zero timestamp.
pub(super) fn push_timestamp(out: &mut String, sec: i64, usec: u32) -> Result<(), Reason> {
    if sec == 0 {
        out.push_str("'0000-00-00 00:00:00'");
        return Ok(());
    }
    if sec < 0 || usec > 999_999 {
        return Err(format!("invalid timestamp {sec}.{usec:06}"));
    }
    let (y, m, d) = civil_from_days(sec.div_euclid(86_400));
    let t = sec.rem_euclid(86_400);
    let y = u16::try_from(y).map_err(|_| format!("timestamp {sec} out of range"))?;
    // Both fit u8: m <= 12, d <= 31, and the time of day is below 86400.
    push_datetime(out, y, m as u8, d as u8, (t / 3600) as u8, (t / 60 % 60) as u8, (t % 60) as u8, usec)
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar (H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Zero parts ('0000-00-00', '2020-00-15') are legal MySQL values and are kept as they are.
pub(super) fn check_date(y: u16, m: u8, d: u8) -> Result<(), Reason> {
    if y > 9999 || m > 12 || d > 31 {
        return Err(format!("invalid date {y}-{m}-{d}"));
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
pub(super) fn push_datetime(
    out: &mut String,
    y: u16,
    m: u8,
    d: u8,
    h: u8,
    i: u8,
    s: u8,
    us: u32,
) -> Result<(), Reason> {
    check_date(y, m, d)?;
    if h > 23 || i > 59 || s > 59 || us > 999_999 {
        return Err(format!("invalid time of day {h}:{i}:{s}.{us}"));
    }
    let _ = write!(out, "'{y:04}-{m:02}-{d:02} {h:02}:{i:02}:{s:02}");
    push_micros(out, us);
    out.push('\'');
    Ok(())
}

pub(super) fn push_micros(out: &mut String, us: u32) {
    if us != 0 {
        let _ = write!(out, ".{us:06}");
    }
}

#[cfg(test)]
mod tests {
    use crate::mysql::schema::Column;

    use super::super::test_util::{bytes, col, lit, ok};
    use super::*;

    #[test]
    fn timestamps_are_utc() {
        let c = col("timestamp", "timestamp(6)");
        assert_eq!(ok(&c, bytes("0")), "'0000-00-00 00:00:00'");
        assert_eq!(ok(&c, bytes("1")), "'1970-01-01 00:00:01'");
        assert_eq!(ok(&c, bytes("951782400")), "'2000-02-29 00:00:00'");
        assert_eq!(ok(&c, bytes("4107542399.5")), "'2100-02-28 23:59:59.500000'");
        assert_eq!(ok(&c, bytes("4107542400")), "'2100-03-01 00:00:00'");
        assert_eq!(ok(&c, bytes("2147483647.999999")), "'2038-01-19 03:14:07.999999'");
        assert_eq!(ok(&c, bytes("1700000000.000001")), "'2023-11-14 22:13:20.000001'");
        // Pre-5.6 TIMESTAMP arrives as Int.
        assert_eq!(ok(&c, Value::Int(86_400 * 365)), "'1971-01-01 00:00:00'");
        for bad in ["-1", "x", "1.1234567", "1.-5", ""] {
            assert!(lit(&c, bytes(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(2_932_896), (9999, 12, 31));
    }

    #[test]
    fn dates_and_datetimes() {
        let dt = col("datetime", "datetime(6)");
        let da = col("date", "date");
        assert_eq!(ok(&dt, Value::Date(2020, 1, 2, 3, 4, 5, 0)), "'2020-01-02 03:04:05'");
        assert_eq!(ok(&dt, Value::Date(9999, 12, 31, 23, 59, 59, 999_999)), "'9999-12-31 23:59:59.999999'");
        assert_eq!(ok(&dt, Value::Date(2020, 1, 2, 3, 4, 5, 120_000)), "'2020-01-02 03:04:05.120000'");
        // Zero dates and zero parts are values of their own.
        assert_eq!(ok(&dt, Value::Date(0, 0, 0, 0, 0, 0, 0)), "'0000-00-00 00:00:00'");
        assert_eq!(ok(&da, Value::Date(0, 0, 0, 0, 0, 0, 0)), "'0000-00-00'");
        assert_eq!(ok(&da, Value::Date(2020, 0, 15, 0, 0, 0, 0)), "'2020-00-15'");
        assert_eq!(ok(&da, Value::Date(1000, 1, 1, 0, 0, 0, 0)), "'1000-01-01'");
        assert!(lit(&dt, Value::Date(2020, 13, 1, 0, 0, 0, 0)).is_err());
        assert!(lit(&dt, Value::Date(2020, 1, 1, 24, 0, 0, 0)).is_err());
        assert!(lit(&dt, Value::Date(2020, 1, 1, 0, 0, 0, 1_000_000)).is_err());
        assert!(lit(&col("time", "time"), Value::Date(2020, 1, 1, 0, 0, 0, 0)).is_err());
    }

    #[test]
    fn times() {
        let t = col("time", "time(6)");
        assert_eq!(ok(&t, Value::Time(false, 0, 0, 0, 0, 0)), "'00:00:00'");
        assert_eq!(ok(&t, Value::Time(true, 34, 22, 59, 59, 0)), "'-838:59:59'");
        assert_eq!(ok(&t, Value::Time(false, 1, 1, 2, 3, 4)), "'25:02:03.000004'");
        assert_eq!(ok(&t, Value::Time(true, 0, 0, 0, 0, 1)), "'-00:00:00.000001'");
        assert!(lit(&t, Value::Time(false, 35, 0, 0, 0, 0)).is_err());
        assert!(lit(&t, Value::Time(false, 0, 0, 60, 0, 0)).is_err());
        assert!(lit(&t, Value::Time(false, 0, 0, 0, 0, 1_000_000)).is_err());
    }

    #[test]
    fn mysql_common_time2_bug_is_undone() {
        // 0.37.3 has the bug; when this fails, the linked mysql_common was fixed and the workaround is inert.
        assert!(time2_decoder_is_buggy());
        let t1 = Column { datetime_precision: Some(1), ..col("time", "time(1)") };
        let t2 = Column { datetime_precision: Some(2), ..col("time", "time(2)") };
        // What 0.37.3 makes of real values (seen on a 9.7 server): '-00:00:01.5', '-838:59:58.9', '-01:00:00.5'.
        assert_eq!(ok(&t1, Value::Time(false, 26, 0, 63, 62, 16_277_216)), "'-00:00:01.500000'");
        assert_eq!(ok(&t1, Value::Time(true, 8, 21, 59, 58, 900_000)), "'-838:59:58.900000'");
        assert_eq!(ok(&t2, Value::Time(false, 25, 23, 63, 63, 16_277_216)), "'-01:00:00.500000'");
        assert_eq!(ok(&t2, Value::Time(false, 25, 23, 63, 63, 16_767_216)), "'-01:00:00.010000'");
        // Values the bug does not touch.
        assert_eq!(ok(&t2, Value::Time(true, 0, 1, 0, 0, 0)), "'-01:00:00'");
        assert_eq!(ok(&t2, Value::Time(false, 0, 1, 0, 0, 500_000)), "'01:00:00.500000'");
        // Other precisions are decoded correctly and left alone.
        let t3 = Column { datetime_precision: Some(3), ..col("time", "time(3)") };
        assert_eq!(ok(&t3, Value::Time(true, 8, 21, 59, 58, 900_000)), "'-213:59:58.900000'");
        assert!(lit(&t3, Value::Time(false, 26, 0, 63, 62, 16_277_216)).is_err());
        assert_eq!(undo_time2_bug((false, 624, 63, 62, 1 << 25)), None);
    }
}
