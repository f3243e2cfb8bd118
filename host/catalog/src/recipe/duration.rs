//! Durations as recipes write them: `30s`, `2m`, `1h30m`, `500ms`.

use std::time::Duration;

/// The units a duration may use, longest name first so `ms` is not read as `m`.
const UNITS: &[(&str, u64)] = &[("ms", 1), ("h", 3_600_000), ("m", 60_000), ("s", 1_000)];

/// What a duration looks like, for hints.
pub const DURATION_FORMAT: &str =
    "a number with a unit: `ms`, `s`, `m` or `h`, or several of them (`30s`, `2m`, `1h30m`)";

/// Parses `30s`, `2m`, `1h30m`, `500ms`; `None` when `text` is not a duration.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    let mut total: u64 = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let number: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let (unit, millis) = UNITS.iter().find(|(unit, _)| rest.starts_with(unit))?;
        rest = &rest[unit.len()..];
        total = total.checked_add(number.checked_mul(*millis)?)?;
    }
    Some(Duration::from_millis(total))
}

/// Writes a duration the way [`parse_duration`] reads it (`1h30m`, `45s`, `0s`).
pub fn format_duration(duration: Duration) -> String {
    let mut millis = duration.as_millis();
    if millis == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    for (unit, size) in [("h", 3_600_000u128), ("m", 60_000), ("s", 1_000), ("ms", 1)] {
        let count = millis / size;
        if count > 0 {
            out.push_str(&format!("{count}{unit}"));
            millis %= size;
        }
    }
    out
}

/// Reads a [`Duration`] written by [`serialize`].
pub(crate) fn deserialize<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Duration, D::Error> {
    let text = <String as serde::Deserialize>::deserialize(deserializer)?;
    parse_duration(&text).ok_or_else(|| {
        serde::de::Error::custom(format!("`{text}` is not a duration: {DURATION_FORMAT}"))
    })
}

/// Serializes a [`Duration`] as its [`format_duration`] text.
pub(crate) fn serialize<S: serde::Serializer>(
    duration: &Duration,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&format_duration(*duration))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_combinations() {
        let cases = [
            ("30s", 30_000),
            ("2m", 120_000),
            ("1h30m", 5_400_000),
            ("500ms", 500),
            ("1m30s", 90_000),
            ("0s", 0),
            (" 5s ", 5_000),
        ];
        for (text, millis) in cases {
            assert_eq!(
                parse_duration(text),
                Some(Duration::from_millis(millis)),
                "{text}"
            );
        }
        for bad in [
            "",
            "30",
            "s",
            "1x",
            "1.5s",
            "-1s",
            "1h 30m",
            "99999999999999999999h",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn formats_back() {
        for text in ["30s", "2m", "1h30m", "500ms", "1h", "0s", "1m1s1ms"] {
            let parsed = parse_duration(text).expect("parses");
            assert_eq!(format_duration(parsed), text);
        }
    }
}
