//! Admission and stopping: steps found together are admitted together, so a host can execute
//! all of them (in-process), plan them (the protocol with several new steps), execute only a
//! targeted one, or stop after a step; and a cancellation stops the pass at the next step.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use serde_json::json;

use super::{input, journal, pass, summary, Counter, TestHost};
use crate::replay::{hash_step_id, Admission, AfterStep, PassEnd};

#[test]
fn steps_found_together_are_admitted_together_and_run_together() {
    let host = Arc::new(TestHost::default());
    let report = pass(input(journal(&[]), vec![]), host.clone(), |step| async move {
        let (a, b) = futures::join!(step.run("a", || async { Ok(1) }), step.run("b", || async { Ok(2) }));
        Ok(json!(a? + b?))
    });
    assert_eq!(*host.groups.lock(), vec![vec!["a".to_owned(), "b".to_owned()]], "one admission for both");
    assert_eq!(summary(&report), vec!["StepRun a", "StepRun b", "RunComplete"]);
}

#[test]
fn a_host_that_plans_gets_both_steps_planned_and_none_run() {
    let ran = Counter::default();
    let (c1, c2) = (ran.clone(), ran.clone());
    let host =
        Arc::new(TestHost { admit: Box::new(|found| vec![Admission::Plan; found.len()]), ..TestHost::default() });
    let report = pass(input(journal(&[]), vec![]), host, move |step| async move {
        let (a, b) = futures::join!(
            step.run("a", || async move { Ok(c1.hit()) }),
            step.run("b", || async move { Ok(c2.hit()) })
        );
        Ok(json!([a?, b?]))
    });
    assert_eq!(ran.get(), 0);
    assert_eq!(summary(&report), vec!["StepPlanned a", "StepPlanned b"]);
    assert_eq!(report.end, PassEnd::Suspended);
}

#[test]
fn a_targeted_pass_runs_only_its_step() {
    let target = hash_step_id("b");
    let host = Arc::new(TestHost {
        admit: Box::new(move |found| {
            found.iter().map(|m| if m.id == target { Admission::Execute } else { Admission::Skip }).collect()
        }),
        after_step: AfterStep::Stop,
        ..TestHost::default()
    });
    let report = pass(input(journal(&[]), vec![]), host, |step| async move {
        let (a, b) = futures::join!(step.run("a", || async { Ok(1) }), step.run("b", || async { Ok(2) }));
        Ok(json!([a?, b?]))
    });
    assert_eq!(summary(&report), vec!["StepRun b"]);
    assert_eq!(report.end, PassEnd::Suspended);
}

#[test]
fn a_host_that_stops_after_a_step_ends_the_pass_there() {
    let after = Counter::default();
    let c = after.clone();
    let host = Arc::new(TestHost { after_step: AfterStep::Stop, ..TestHost::default() });
    let report = pass(input(journal(&[]), vec![]), host, move |step| async move {
        step.run("a", || async { Ok(1) }).await?;
        c.hit();
        step.run("b", || async { Ok(2) }).await?;
        Ok(json!(null))
    });
    assert_eq!(summary(&report), vec!["StepRun a"]);
    assert_eq!(after.get(), 0, "the function does not go past a step the host stopped at");
    assert_eq!(report.end, PassEnd::Suspended);
}

#[test]
fn a_cancelled_run_stops_at_its_next_step() {
    let host = Arc::new(TestHost::default());
    let h = host.clone();
    let report = pass(input(journal(&[]), vec![]), host, move |step| async move {
        step.run("a", || async move {
            h.cancelled.store(true, Ordering::SeqCst);
            Ok(1)
        })
        .await?;
        step.run("b", || async { Ok(2) }).await?;
        Ok(json!(null))
    });
    assert_eq!(summary(&report), vec!["StepRun a"]);
    assert_eq!(report.end, PassEnd::Cancelled);
}
