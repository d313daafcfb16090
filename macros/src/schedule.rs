//! Cron schedules as `#[inngest_fn(cron = "...")]` takes them: an optional `TZ=Area/City `
//! prefix, then a cron expression with optional seconds (croner's syntax, as Inngest's).
//!
//! Shared like `duration.rs`: the runtime includes this file with
//! `#[path = "../../macros/src/schedule.rs"] mod schedule;` so that the macro accepts exactly
//! the schedules the engine can run. It depends only on `croner` and `chrono-tz`, which both
//! crates have, and uses no `crate::` paths.

use std::fmt;
use std::str::FromStr;

/// A parsed schedule.
#[derive(Debug, Clone)]
#[allow(dead_code, reason = "the macro only checks schedules; the runtime reads them")]
pub(crate) struct Schedule {
    /// The time zone the expression is read in; `None` means UTC.
    pub(crate) timezone: Option<chrono_tz::Tz>,
    /// The cron expression.
    pub(crate) cron: croner::Cron,
}

/// What is wrong with a schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ScheduleError {
    /// `TZ=` names no IANA time zone.
    UnknownTimezone {
        /// The zone as written.
        timezone: String,
    },
    /// `TZ=...` with no expression after it, or nothing at all.
    MissingExpression,
    /// croner rejected the expression.
    Cron {
        /// The expression as written (without the `TZ=` prefix).
        expression: String,
        /// croner's explanation.
        reason: String,
    },
}

impl fmt::Display for ScheduleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScheduleError::UnknownTimezone { timezone } => write!(
                f,
                "unknown time zone `{timezone}`: use an IANA name such as `TZ=Europe/Paris` or `TZ=America/New_York`"
            ),
            ScheduleError::MissingExpression => write!(
                f,
                "missing cron expression: write e.g. `0 9 * * MON` (minute hour day-of-month month day-of-week), optionally after `TZ=Area/City `"
            ),
            ScheduleError::Cron { expression, reason } => write!(
                f,
                "invalid cron expression `{expression}`: {reason}; write five fields (minute hour day-of-month month day-of-week) or six with seconds first, e.g. `0 9 * * MON`"
            ),
        }
    }
}

impl std::error::Error for ScheduleError {}

/// Parses `[TZ=Area/City ]<cron expression>`.
pub(crate) fn parse_schedule(input: &str) -> Result<Schedule, ScheduleError> {
    let text = input.trim();
    let (timezone, expression) = match text.strip_prefix("TZ=") {
        Some(rest) => {
            let (zone, expression) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            let tz = chrono_tz::Tz::from_str(zone)
                .map_err(|_| ScheduleError::UnknownTimezone { timezone: zone.to_owned() })?;
            (Some(tz), expression.trim())
        }
        None => (None, text),
    };
    if expression.is_empty() {
        return Err(ScheduleError::MissingExpression);
    }
    // `Cron::from_str` is croner 3's default parser: seconds optional, year optional.
    let cron = croner::Cron::from_str(expression)
        .map_err(|e| ScheduleError::Cron { expression: expression.to_owned(), reason: lower_first(&e.to_string()) })?;
    Ok(Schedule { timezone, cron })
}

/// croner capitalises and punctuates its messages ("Component error: Number out of bounds.");
/// ours continue them mid-sentence, so each `: `-separated part starts in lower case unless its
/// first word is a name (`CronPattern`).
fn lower_first(message: &str) -> String {
    message
        .trim_end_matches('.')
        .split(": ")
        .map(|part| {
            let first_word = part.split(' ').next().unwrap_or_default();
            let is_plain_word = first_word.chars().skip(1).all(|c| !c.is_uppercase());
            let mut chars = part.chars();
            match chars.next() {
                Some(first) if is_plain_word => first.to_lowercase().chain(chars).collect(),
                _ => part.to_owned(),
            }
        })
        .collect::<Vec<_>>()
        .join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_zoned_schedules_parse() {
        let plain = parse_schedule("0 9 * * MON").map_err(|e| e.to_string());
        assert!(matches!(plain, Ok(Schedule { timezone: None, .. })), "{plain:?}");
        let zoned = parse_schedule("TZ=Europe/Paris 0 9 * * MON").map_err(|e| e.to_string());
        assert_eq!(zoned.map(|s| s.timezone), Ok(Some(chrono_tz::Tz::Europe__Paris)));
        assert!(parse_schedule("*/10 * * * * *").is_ok(), "six fields: seconds first");
    }

    #[test]
    fn bad_schedules_say_why() {
        assert_eq!(
            parse_schedule("TZ=Europe/Pariss 0 9 * * *").err(),
            Some(ScheduleError::UnknownTimezone { timezone: "Europe/Pariss".into() })
        );
        assert_eq!(parse_schedule("TZ=Europe/Paris").err(), Some(ScheduleError::MissingExpression));
        assert_eq!(parse_schedule("  ").err(), Some(ScheduleError::MissingExpression));
        for bad in ["61 * * * *", "* * *", "0 9 * * FUNDAY", "every day"] {
            match parse_schedule(bad) {
                Err(ScheduleError::Cron { expression, reason }) => {
                    assert_eq!(expression, bad);
                    assert!(!reason.is_empty());
                }
                other => panic!("`{bad}` gave {other:?}"),
            }
        }
    }

    #[test]
    fn lower_first_continues_a_sentence() {
        assert_eq!(lower_first("Invalid pattern: x."), "invalid pattern: x");
        assert_eq!(lower_first("Component error: Number out of bounds."), "component error: number out of bounds");
        assert_eq!(lower_first("Bad: CronPattern has 'F'"), "bad: CronPattern has 'F'");
        assert_eq!(lower_first(""), "");
    }
}
