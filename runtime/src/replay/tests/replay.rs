//! Replay: journaled steps answer from their memo without running, new steps run, ids repeat
//! with Inngest's suffix.

use std::sync::Arc;

use serde_json::json;

use super::{input, journal, pass, summary, Counter, TestHost};
use crate::error::ErrorInfo;
use crate::model::{Memo, StepKind};
use crate::replay::{hash_step_id, Op, PassEnd};

#[test]
fn a_new_step_runs_and_the_function_goes_on() {
    let ran = Counter::default();
    let c = ran.clone();
    let report = pass(input(journal(&[]), vec![]), Arc::new(TestHost::default()), move |step| async move {
        let a: u32 = step.run("a", || async move { Ok(c.hit() as u32 * 10) }).await?;
        Ok(json!({ "a": a }))
    });
    assert_eq!(ran.get(), 1);
    assert_eq!(summary(&report), vec!["StepRun a", "RunComplete"]);
    assert_eq!(report.end, PassEnd::Completed);
    let Op::StepRun { step, kind, data, attempt, .. } = &report.ops[0] else { panic!("{report:?}") };
    assert_eq!((step.id.as_str(), *kind, data, *attempt), (hash_step_id("a").as_str(), StepKind::Run, &json!(10), 0));
    assert_eq!(report.ops[1], Op::RunComplete { data: json!({ "a": 10 }) });
}

#[test]
fn journaled_steps_answer_without_running() {
    let ran = Counter::default();
    let c = ran.clone();
    let memos = journal(&[("a", Memo::Data(json!(7)))]);
    let report = pass(input(memos, vec![]), Arc::new(TestHost::default()), move |step| async move {
        let a: u32 = step.run("a", || async move { Ok(c.hit() as u32) }).await?;
        let b: u32 = step.run("b", || async move { Ok(a + 1) }).await?;
        Ok(json!([a, b]))
    });
    assert_eq!(ran.get(), 0, "a journaled step never runs again");
    assert_eq!(summary(&report), vec!["StepRun b", "RunComplete"]);
    assert_eq!(report.replayed, 1);
    assert_eq!(report.ops[1], Op::RunComplete { data: json!([7, 8]) });
}

#[test]
fn repeated_ids_get_inngest_s_suffix() {
    let report = pass(input(journal(&[]), vec![]), Arc::new(TestHost::default()), |step| async move {
        for _ in 0..3 {
            step.run("send", || async { Ok(()) }).await?;
        }
        Ok(json!(null))
    });
    let ids: Vec<&str> = report
        .ops
        .iter()
        .filter_map(|op| match op {
            Op::StepRun { step, .. } => Some(step.id.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(ids, vec![hash_step_id("send"), hash_step_id("send:1"), hash_step_id("send:2")]);
}

#[test]
fn a_journaled_error_reaches_the_call_site() {
    let error = ErrorInfo { name: "SmtpError".into(), message: "mailbox full".into(), cause: None, stack: None };
    let memos = journal(&[("email", Memo::Error(error.clone()))]);
    let report = pass(input(memos, vec![]), Arc::new(TestHost::default()), |step| async move {
        match step.run("email", || async { Ok(1) }).await {
            Ok(_) => Ok(json!("sent")),
            Err(e) => Ok(json!(format!("handled: {}", e.info.message))),
        }
    });
    assert_eq!(report.ops, vec![Op::RunComplete { data: json!("handled: mailbox full") }]);
}

#[test]
fn a_memo_of_another_shape_is_a_typed_error() {
    let memos = journal(&[("a", Memo::Data(json!("text")))]);
    let report = pass(input(memos, vec![]), Arc::new(TestHost::default()), |step| async move {
        let n: u32 = step.run("a", || async { Ok(1) }).await?;
        Ok(json!(n))
    });
    let PassEnd::Failed { error, .. } = &report.end else { panic!("{report:?}") };
    assert_eq!(error.name, "DeserializeError");
    assert!(error.message.contains("does not fit the type"), "{}", error.message);
}

#[test]
fn sent_events_get_ids_from_the_run_and_step() {
    let host = Arc::new(TestHost::default());
    let report = pass(input(journal(&[]), vec![]), host.clone(), |step| async move {
        let ids = step.send_event("notify", [crate::RawEvent::new("app/x", json!({}))]).await?;
        Ok(json!(ids))
    });
    let expected = hash_step_id(&format!("run-1-{}-0", hash_step_id("notify")));
    assert_eq!(host.sent.lock()[0].id, expected, "a retried send cannot send twice");
    assert_eq!(report.ops.last(), Some(&Op::RunComplete { data: json!([expected]) }));
    assert!(matches!(&report.ops[0], Op::StepRun { kind: StepKind::Send, .. }));
}
