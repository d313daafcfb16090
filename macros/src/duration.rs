//! Human durations: `3 days`, `3d`, `1h30m`, `1 hour 30 minutes`, `90s`, `500ms`, `2 weeks`.
//!
//! One parser for both crates: the macro checks option values with it at expansion time and
//! the runtime includes this very file (`#[path = "../../macros/src/duration.rs"] mod duration;`)
//! to parse `step.sleep("wait", "3 days")`, so a string the macro accepts means the same thing
//! at run time. Hence: no dependencies and no `crate::` paths in here.

use std::fmt;
use std::time::Duration;

/// Every unit, with its spellings (matched case-insensitively) and its length in milliseconds.
const UNITS: &[(&[&str], u64)] = &[
    (&["ms", "msec", "msecs", "millisecond", "milliseconds"], 1),
    (&["s", "sec", "secs", "second", "seconds"], 1_000),
    (&["m", "min", "mins", "minute", "minutes"], 60_000),
    (&["h", "hr", "hrs", "hour", "hours"], 3_600_000),
    (&["d", "day", "days"], 86_400_000),
    (&["w", "week", "weeks"], 604_800_000),
];

/// What is wrong with a duration string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DurationError {
    /// Nothing but whitespace.
    Empty,
    /// A number with no unit after it.
    MissingUnit {
        /// The whole input.
        input: String,
        /// The number that has no unit.
        number: String,
    },
    /// A unit that is not one of ours.
    UnknownUnit {
        /// The whole input.
        input: String,
        /// The unit as written.
        unit: String,
    },
    /// Something other than a number where a number must come.
    ExpectedNumber {
        /// The whole input.
        input: String,
        /// What was found instead.
        found: String,
    },
    /// A decimal fraction such as `1.5h`.
    Fraction {
        /// The whole input.
        input: String,
    },
    /// More than `u64::MAX` milliseconds.
    TooLong {
        /// The whole input.
        input: String,
    },
}

const UNIT_HELP: &str = "ms, s, m, h, d or w (or milliseconds, seconds, minutes, hours, days, weeks)";

impl fmt::Display for DurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DurationError::Empty => write!(f, "empty duration: write e.g. `3 days`, `1h30m` or `500ms`"),
            DurationError::MissingUnit { input, number } => {
                write!(f, "missing unit after `{number}` in duration `{input}`: write e.g. `{number}s`; units are {UNIT_HELP}")
            }
            DurationError::UnknownUnit { input, unit } => {
                write!(f, "unknown unit `{unit}` in duration `{input}`;")?;
                if let Some(best) = closest_unit(unit) {
                    write!(f, " did you mean `{best}`?")?;
                }
                write!(f, " the units are {UNIT_HELP}")
            }
            DurationError::ExpectedNumber { input, found } => write!(
                f,
                "expected a whole number before `{found}` in duration `{input}`: write e.g. `3 days`, `1h30m` or `500ms`"
            ),
            DurationError::Fraction { input } => {
                write!(f, "fractions are not supported in duration `{input}`: combine units instead, e.g. `1h30m`")
            }
            DurationError::TooLong { input } => write!(f, "duration `{input}` is too long"),
        }
    }
}

impl std::error::Error for DurationError {}

/// Parses a duration: one or more `<whole number><optional spaces><unit>` parts, e.g. `1h30m`.
pub(crate) fn parse_duration(input: &str) -> Result<Duration, DurationError> {
    let text = input.trim();
    if text.is_empty() {
        return Err(DurationError::Empty);
    }
    let mut rest = text;
    let mut total: u64 = 0;
    while !rest.is_empty() {
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits == 0 {
            let found: String = rest.chars().take_while(|c| !c.is_whitespace()).collect();
            return Err(DurationError::ExpectedNumber { input: text.to_owned(), found });
        }
        let (number, after) = rest.split_at(digits);
        let after = after.trim_start();
        if after.starts_with(['.', ',']) && after[1..].starts_with(|c: char| c.is_ascii_digit()) {
            return Err(DurationError::Fraction { input: text.to_owned() });
        }
        // A unit runs to the next space or digit, so that `1h30m` splits and `d@ys` stays whole.
        let unit_len =
            after.len() - after.trim_start_matches(|c: char| !c.is_whitespace() && !c.is_ascii_digit()).len();
        if unit_len == 0 {
            return Err(DurationError::MissingUnit { input: text.to_owned(), number: number.to_owned() });
        }
        let (unit, after) = after.split_at(unit_len);
        let lower = unit.to_lowercase();
        let Some(&(_, millis_per_unit)) = UNITS.iter().find(|(names, _)| names.contains(&lower.as_str())) else {
            return Err(DurationError::UnknownUnit { input: text.to_owned(), unit: unit.to_owned() });
        };
        let too_long = || DurationError::TooLong { input: text.to_owned() };
        let count: u64 = number.parse().map_err(|_| too_long())?;
        let millis = count.checked_mul(millis_per_unit).ok_or_else(too_long)?;
        total = total.checked_add(millis).ok_or_else(too_long)?;
        rest = after.trim_start();
    }
    Ok(Duration::from_millis(total))
}

/// The unit spelling closest to `unit` (edit distance at most 2), for "did you mean".
fn closest_unit(unit: &str) -> Option<&'static str> {
    let lower = unit.to_lowercase();
    UNITS
        .iter()
        .flat_map(|(names, _)| names.iter().copied())
        .filter(|name| name.len() > 2)
        .map(|name| (edit_distance(&lower, name), name))
        .filter(|(distance, _)| *distance <= 2)
        // On a tie, the spelling as long as the input: `dayz` → `days`, not `day`.
        .min_by_key(|(distance, name)| (*distance, name.len().abs_diff(unit.len())))
        .map(|(_, name)| name)
}

/// Levenshtein distance, enough for short unit names.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(input: &str) -> u128 {
        match parse_duration(input) {
            Ok(d) => d.as_millis(),
            Err(e) => panic!("`{input}` did not parse: {e}"),
        }
    }

    #[test]
    fn single_units_in_short_and_long_forms() {
        assert_eq!(ms("500ms"), 500);
        assert_eq!(ms("90s"), 90_000);
        assert_eq!(ms("1m"), 60_000, "`m` is minutes, never months");
        assert_eq!(ms("5 minutes"), 300_000);
        assert_eq!(ms("2h"), 7_200_000);
        assert_eq!(ms("1 hour"), 3_600_000);
        assert_eq!(ms("3d"), 259_200_000);
        assert_eq!(ms("3 days"), 259_200_000);
        assert_eq!(ms("1 day"), 86_400_000);
        assert_eq!(ms("2 weeks"), 1_209_600_000);
        assert_eq!(ms("7D"), 604_800_000, "units are case-insensitive");
    }

    #[test]
    fn compound_durations_add_up() {
        assert_eq!(ms("1h30m"), 5_400_000);
        assert_eq!(ms("1h 30m"), 5_400_000);
        assert_eq!(ms("1 hour 30 minutes"), 5_400_000);
        assert_eq!(ms("  1m1s1ms "), 61_001);
    }

    #[test]
    fn unknown_unit_names_the_unit_and_suggests() {
        let err = parse_duration("3 dayz").err();
        assert_eq!(err, Some(DurationError::UnknownUnit { input: "3 dayz".into(), unit: "dayz".into() }));
        let message = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("unknown unit `dayz`"), "{message}");
        assert!(message.contains("did you mean `days`?"), "{message}");
        assert!(message.contains("ms, s, m, h, d or w"), "{message}");
        let far = parse_duration("3 fortnights").err().map(|e| e.to_string()).unwrap_or_default();
        assert!(far.starts_with("unknown unit `fortnights`"), "{far}");
        assert!(!far.contains("did you mean"), "{far}");
    }

    #[test]
    fn malformed_inputs_are_rejected() {
        assert_eq!(parse_duration("  "), Err(DurationError::Empty));
        assert_eq!(parse_duration("90"), Err(DurationError::MissingUnit { input: "90".into(), number: "90".into() }));
        assert_eq!(
            parse_duration("1h30"),
            Err(DurationError::MissingUnit { input: "1h30".into(), number: "30".into() })
        );
        assert_eq!(
            parse_duration("days"),
            Err(DurationError::ExpectedNumber { input: "days".into(), found: "days".into() })
        );
        assert_eq!(parse_duration("1.5h"), Err(DurationError::Fraction { input: "1.5h".into() }));
        assert_eq!(
            parse_duration("3 d@ys"),
            Err(DurationError::UnknownUnit { input: "3 d@ys".into(), unit: "d@ys".into() })
        );
        assert_eq!(
            parse_duration("-1s"),
            Err(DurationError::ExpectedNumber { input: "-1s".into(), found: "-1s".into() })
        );
        assert!(matches!(parse_duration("99999999999999999999s"), Err(DurationError::TooLong { .. })));
        assert!(matches!(parse_duration("18446744073709551615w"), Err(DurationError::TooLong { .. })));
    }

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("dayz", "days"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("hours", "hours"), 0);
    }
}
