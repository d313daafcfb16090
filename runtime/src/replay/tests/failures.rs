//! Failures: a step's attempt that fails is retried while attempts remain (reported as
//! `StepError`), recorded as its result when they run out (`StepFailed`); a function's own
//! error ends the pass with the error and what it asks for.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::{input, journal, pass, summary, Counter, TestHost, NOW};
use crate::error::{Error, NonRetriable, Retry, RetryAfter};
use crate::model::Memo;
use crate::replay::{hash_step_id, Op, PassEnd};

#[test]
fn a_failed_attempt_with_attempts_left_is_retried() {
    let report = pass(input(journal(&[]), vec![]), Arc::new(TestHost::default()), |step| async move {
        step.run("flaky", || async { Err::<(), _>(Error::msg("timeout")) }).await?;
        Ok(json!(null))
    });
    assert_eq!(summary(&report), vec!["StepError flaky"]);
    let Op::StepError { error, attempt, retry_after, .. } = &report.ops[0] else { panic!("{report:?}") };
    assert_eq!((error.message.as_str(), *attempt, *retry_after), ("timeout", 0, None));
    assert_eq!(report.end, PassEnd::Suspended);
}

#[test]
fn a_retried_attempt_reports_its_own_start_beside_the_first_attempt_s() {
    let mut second = input(journal(&[]), vec![]);
    second.attempts.insert(hash_step_id("flaky"), 1);
    second.started.insert(hash_step_id("flaky"), NOW - 60_000);
    let report = pass(second, Arc::new(TestHost::default()), |step| async move {
        step.run("flaky", || async { Err::<(), _>(Error::msg("timeout again")) }).await?;
        Ok(json!(null))
    });
    let Op::StepError { attempt, timing, attempt_started_at, .. } = &report.ops[0] else { panic!("{report:?}") };
    assert_eq!(*attempt, 1);
    assert_eq!(timing.started_at, NOW - 60_000, "the step's timing spans its attempts");
    assert_eq!(*attempt_started_at, NOW, "while this attempt began now");
}

#[test]
fn retry_after_carries_its_delay() {
    let report = pass(input(journal(&[]), vec![]), Arc::new(TestHost::default()), |step| async move {
        step.run("api", || async { Err::<(), _>(RetryAfter::new(Duration::from_secs(30), "rate limited").into()) })
            .await?;
        Ok(json!(null))
    });
    assert!(matches!(&report.ops[0], Op::StepError { retry_after: Some(d), .. } if *d == Duration::from_secs(30)));
}

#[test]
fn the_last_attempt_records_the_error_and_the_call_site_gets_it() {
    let mut last = input(journal(&[]), vec![]);
    last.attempts.insert(hash_step_id("flaky"), 2);
    let report = pass(last, Arc::new(TestHost::default()), |step| async move {
        match step.run("flaky", || async { Err::<(), _>(Error::msg("still down")) }).await {
            Ok(()) => Ok(json!("ok")),
            Err(e) => Ok(json!(e.info.message)),
        }
    });
    assert_eq!(summary(&report), vec!["StepFailed flaky", "RunComplete"]);
    assert!(matches!(&report.ops[0], Op::StepFailed { attempt: 2, .. }));
    assert_eq!(report.ops[1], Op::RunComplete { data: json!("still down") });
}

#[test]
fn a_non_retriable_error_fails_the_step_at_once() {
    let tried = Counter::default();
    let c = tried.clone();
    let report = pass(input(journal(&[]), vec![]), Arc::new(TestHost::default()), move |step| async move {
        step.run("charge", || async move {
            c.hit();
            Err::<(), _>(NonRetriable::new("card declined").into())
        })
        .await?;
        Ok(json!(null))
    });
    assert_eq!(tried.get(), 1);
    assert_eq!(summary(&report), vec!["StepFailed charge"]);
    let PassEnd::Failed { error, retry } = &report.end else { panic!("{report:?}") };
    assert_eq!((error.message.as_str(), *retry), ("card declined", Retry::Never), "an exhausted step fails the run");
}

#[test]
fn a_panic_is_an_error_not_a_crash() {
    let report = pass(input(journal(&[]), vec![]), Arc::new(TestHost::default()), |step| async move {
        step.run("boom", || async {
            if step_always_panics() {
                panic!("index out of bounds");
            }
            Ok(())
        })
        .await?;
        Ok(json!(null))
    });
    let Op::StepError { error, .. } = &report.ops[0] else { panic!("{report:?}") };
    assert!(error.message.contains("index out of bounds"), "{}", error.message);
    let report = pass(
        input(journal(&[("a", Memo::Data(json!(1)))]), vec![]),
        Arc::new(TestHost::default()),
        |_step| async move {
            if step_always_panics() {
                panic!("body panicked");
            }
            Ok(json!(null))
        },
    );
    let PassEnd::Failed { error, retry } = &report.end else { panic!("{report:?}") };
    assert!(error.message.contains("body panicked"));
    assert_eq!(*retry, Retry::Backoff);
}

fn step_always_panics() -> bool {
    true
}

#[test]
fn a_function_error_ends_the_pass_with_what_it_asks_for() {
    let report = pass(input(journal(&[]), vec![]), Arc::new(TestHost::default()), |_step| async move {
        Err(RetryAfter::new(Duration::from_secs(5), "later").into())
    });
    let PassEnd::Failed { error, retry } = &report.end else { panic!("{report:?}") };
    assert_eq!((error.name.as_str(), *retry), ("RetryAfterError", Retry::After(Duration::from_secs(5))));
    assert!(report.ops.is_empty());
}
