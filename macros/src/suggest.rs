//! "Did you mean": the closest known name, by Jaro–Winkler similarity of at least 0.8 (the
//! threshold darling uses), and short lists of the valid names.

use crate::catalog::{self, CLERK_EVENTS};

const THRESHOLD: f64 = 0.8;

/// The candidate closest to `input`, if it is close enough.
pub(crate) fn did_you_mean<'a>(input: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let input = input.to_lowercase();
    candidates
        .into_iter()
        .map(|candidate| (strsim::jaro_winkler(&input, &candidate.to_lowercase()), candidate))
        .filter(|(score, _)| *score >= THRESHOLD)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, candidate)| candidate)
}

/// `` `a`, `b`, `c` ``.
pub(crate) fn backticked<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    names.into_iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
}

/// Old or other-SDK spellings of option keys, answered with a rename hint rather than a guess.
pub(crate) fn renamed_key(key: &str) -> Option<&'static str> {
    Some(match key {
        "rateLimit" | "ratelimit" => "rate_limit",
        "batchEvents" | "batch" | "batching" => "batch_events",
        "cancelOn" | "cancel" | "cancellation" => "cancel_on",
        "onFailure" | "on_error" | "onError" => "on_failure",
        "trigger" | "triggers" | "events" => "event",
        "timeout" => "timeouts",
        "retry" | "max_retries" | "maxRetries" => "retries",
        "idempotency_key" | "idempotencyKey" => "idempotency",
        "fn_id" | "function_id" | "functionId" => "id",
        "schedule" | "crons" => "cron",
        _ => return None,
    })
}

/// What to say about an event name that starts with `clerk/` but is not in the catalogue.
pub(crate) fn unknown_clerk_event(name: &str) -> String {
    let mut message = format!("unknown Clerk event `{name}`");
    let clerk_type = name.strip_prefix("clerk/").unwrap_or(name);
    // Compare the whole `family.action` part, so that a wrong family (`users.created`,
    // `organisation.created`) is caught as well as a wrong action.
    let best = did_you_mean(clerk_type, CLERK_EVENTS.iter().map(|e| e.clerk_type));
    let family = match best {
        Some(best) => {
            message.push_str(&format!(": did you mean `{}`?", catalog::event_name(best)));
            catalog::family_of(best)
        }
        None => catalog::family_of(name),
    };
    let siblings: Vec<String> = CLERK_EVENTS
        .iter()
        .filter(|e| catalog::family_of(e.clerk_type) == family)
        .map(|e| catalog::event_name(e.clerk_type))
        .collect();
    if siblings.is_empty() {
        let mut families: Vec<&str> = CLERK_EVENTS.iter().map(|e| catalog::family_of(e.clerk_type)).collect();
        families.dedup();
        let sep = if best.is_some() { " " } else { ": " };
        message.push_str(&format!(
            "{sep}Clerk's event families are {}; see `hookflow::clerk` for every event",
            backticked(families)
        ));
    } else {
        let sep = if best.is_some() { " " } else { ": " };
        message
            .push_str(&format!("{sep}the `{family}` events are {}", backticked(siblings.iter().map(String::as_str))));
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_the_closest_name_above_the_threshold() {
        let keys = ["id", "name", "retries", "rate_limit", "debounce"];
        assert_eq!(did_you_mean("retires", keys), Some("retries"));
        assert_eq!(did_you_mean("debounse", keys), Some("debounce"));
        assert_eq!(did_you_mean("Retries", keys), Some("retries"));
        assert_eq!(did_you_mean("flavour", keys), None);
    }

    #[test]
    fn clerk_typos_are_corrected() {
        let m = unknown_clerk_event("clerk/user.craeted");
        assert!(m.starts_with("unknown Clerk event `clerk/user.craeted`: did you mean `clerk/user.created`?"), "{m}");
        assert!(
            m.contains("the `user` events are `clerk/user.created`, `clerk/user.updated`, `clerk/user.deleted`"),
            "{m}"
        );
    }

    #[test]
    fn wrong_family_spellings_are_corrected() {
        let m = unknown_clerk_event("clerk/organisation.created");
        assert!(m.contains("did you mean `clerk/organization.created`?"), "{m}");
        assert!(m.contains("`clerk/organization.deleted`"), "{m}");
        let m = unknown_clerk_event("clerk/users.created");
        assert!(m.contains("did you mean `clerk/user.created`?"), "{m}");
        let m = unknown_clerk_event("clerk/organizationMembership.create");
        assert!(m.contains("did you mean `clerk/organizationMembership.created`?"), "{m}");
        let m = unknown_clerk_event("clerk/subscriptionItem.cancelled");
        assert!(m.contains("did you mean `clerk/subscriptionItem.canceled`?"), "{m}");
    }

    #[test]
    fn hopeless_names_list_the_families() {
        let m = unknown_clerk_event("clerk/zzz");
        assert!(!m.contains("did you mean"), "{m}");
        assert!(m.contains("Clerk's event families are `user`, `session`"), "{m}");
    }

    #[test]
    fn renamed_keys_point_to_the_new_spelling() {
        assert_eq!(renamed_key("rateLimit"), Some("rate_limit"));
        assert_eq!(renamed_key("retries"), None);
    }
}
