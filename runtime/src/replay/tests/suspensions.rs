//! Suspensions: steps that must wait ask for it and never complete, so the pass ends without
//! the function going on; what earlier passes left pending stays pending.

use std::sync::Arc;

use serde_json::json;

use super::{input, journal, pass, summary, Counter, TestHost, NOW};
use crate::model::{Memo, PendingOp, StepKind};
use crate::replay::{hash_step_id, Op, PassEnd};
use crate::step::{Invoke, WaitFor};
use crate::Json;

#[test]
fn a_sleep_suspends_and_nothing_after_it_runs() {
    let after = Counter::default();
    let c = after.clone();
    let report = pass(input(journal(&[]), vec![]), Arc::new(TestHost::default()), move |step| async move {
        step.run("a", || async { Ok(1) }).await?;
        step.sleep("wait-3-days", "3 days").await?;
        step.run("b", || async move { Ok(c.hit()) }).await?;
        Ok(json!(null))
    });
    assert_eq!(summary(&report), vec!["StepRun a", "Sleep wait-3-days"]);
    assert_eq!(report.end, PassEnd::Suspended);
    assert_eq!(after.get(), 0);
    let Op::Sleep { since, until, .. } = &report.ops[1] else { panic!("{report:?}") };
    assert_eq!((*since, *until), (NOW, NOW + 3 * 86_400_000));
}

#[test]
fn a_sleep_that_is_over_is_recorded_and_the_function_goes_on() {
    let report = pass(input(journal(&[]), vec![]), Arc::new(TestHost::default()), |step| async move {
        step.sleep("no-wait", std::time::Duration::ZERO).await?;
        Ok(json!("on"))
    });
    assert!(matches!(&report.ops[0], Op::StepRun { kind: StepKind::Sleep, data, .. } if data.is_null()));
    assert_eq!(report.end, PassEnd::Completed);
}

#[test]
fn a_swallowed_suspension_cannot_let_the_function_go_on() {
    let after = Counter::default();
    let c = after.clone();
    let report = pass(input(journal(&[]), vec![]), Arc::new(TestHost::default()), move |step| async move {
        // The user drops the error handling on the floor: the sleep still never returns.
        let _ = step.sleep("nap", "1h").await;
        c.hit();
        Ok(json!("corrupted"))
    });
    assert_eq!(after.get(), 0);
    assert_eq!(report.end, PassEnd::Suspended);
}

#[test]
fn a_wait_reports_what_it_waits_for_and_a_timeout_reads_none() {
    let report = pass(input(journal(&[]), vec![]), Arc::new(TestHost::default()), |step| async move {
        let wait = WaitFor::timeout("7d").event("app/approved").matching("data.id");
        step.wait_for_event::<Json>("approval", wait).await?;
        Ok(json!(null))
    });
    assert_eq!(
        report.ops,
        vec![Op::WaitForEvent {
            step: crate::replay::StepMeta { id: hash_step_id("approval"), name: "approval".into() },
            since: NOW,
            event: "app/approved".into(),
            expr: Some("event.data.id == async.data.id".into()),
            until: NOW + 7 * 86_400_000,
        }]
    );
    let timed_out = journal(&[("approval", Memo::Data(json!(null)))]);
    let report = pass(input(timed_out, vec![]), Arc::new(TestHost::default()), |step| async move {
        let got = step.wait_for_event::<Json>("approval", WaitFor::timeout("7d").event("app/approved")).await?;
        Ok(json!(got.is_none()))
    });
    assert_eq!(report.ops, vec![Op::RunComplete { data: json!(true) }]);
}

#[test]
fn an_invoke_reports_the_function_and_its_data() {
    let report = pass(input(journal(&[]), vec![]), Arc::new(TestHost::default()), |step| async move {
        let n: u64 = step.invoke("child", Invoke::function("score-user", json!({"id": "u1"}))?).await?;
        Ok(json!(n))
    });
    let Op::InvokeFunction { function_id, data, until, .. } = &report.ops[0] else { panic!("{report:?}") };
    assert_eq!((function_id.as_str(), data), ("score-user", &json!({"id": "u1"})));
    assert_eq!(*until, NOW + 366 * 86_400_000, "a year by default, as in Inngest");
    assert_eq!(report.end, PassEnd::Suspended);
}

#[test]
fn what_an_earlier_pass_left_pending_stays_pending() {
    let pending =
        PendingOp::Sleep { step: hash_step_id("nap"), name: "nap".into(), until: NOW + 5_000, since: NOW - 1 };
    let report = pass(
        input(journal(&[("a", Memo::Data(json!(1)))]), vec![pending.clone()]),
        Arc::new(TestHost::default()),
        |step| async move {
            step.run("a", || async { Ok(1) }).await?;
            step.sleep("nap", "1h").await?;
            Ok(json!(null))
        },
    );
    assert!(report.ops.is_empty(), "no new op: {report:?}");
    assert_eq!(report.kept, vec![pending], "the sleep keeps its original times");
    assert_eq!(report.end, PassEnd::Suspended);
}

#[test]
fn parallel_waits_are_all_reported() {
    let report = pass(input(journal(&[]), vec![]), Arc::new(TestHost::default()), |step| async move {
        let (a, b) = futures::join!(step.sleep("one", "1m"), step.sleep("two", "2m"));
        a?;
        b?;
        Ok(json!(null))
    });
    assert_eq!(summary(&report), vec!["Sleep one", "Sleep two"]);
}
