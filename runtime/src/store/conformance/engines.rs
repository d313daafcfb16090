//! Two engines, one store: the contract a store shared by several workers must keep, checked
//! with two engine instances over one store and events sent to either at random. Every run
//! completes exactly once, no recorded step runs again, every timer fires once, a wait created
//! on one engine is matched by an event accepted on the other, a cancellation sent to one stops
//! a run the other executes, and when one engine dies mid-pass (its runtime dropped, nothing
//! shut down) the other takes its runs over once their leases expire.
//!
//! The functions are written by hand (not with `#[inngest_fn]`, which would register them in
//! every binary that links this module) and count their step executions outside the engine.

use std::borrow::Cow;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde_json::{json, Value};
use tokio::sync::{Notify, Semaphore};

use crate::clock::TestClock;
use crate::engine::{Engine, EngineBuilder};
use crate::function::{FunctionDef, HandlerFuture, Options, SourceLocation, Trigger};
use crate::invocation::Invocation;
use crate::model::{Memo, RunRecord, RunStatus};
use crate::registry::Registry;
use crate::step::WaitFor;
use crate::store::{RunQuery, Store};
use crate::{Json, RawEvent};

/// A short lease, so that a dead engine's runs are taken over within a test.
const LEASE: Duration = Duration::from_millis(300);

/// Runs every case against fresh stores from `make`. Panics with the failing case's name.
pub async fn run_all<F, Fut>(make: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    every_run_completes_once_whichever_engine_accepts_it(make().await).await;
    every_timer_fires_once(make().await).await;
    a_wait_on_one_engine_is_matched_by_an_event_on_the_other(make().await).await;
    a_cancel_sent_to_one_engine_stops_a_run_the_other_executes(make().await).await;
    a_dead_engine_s_runs_are_taken_over_when_their_leases_expire(make().await).await;
}

// ---- functions ------------------------------------------------------------------------------

/// Step executions, by run and step.
static EXECUTIONS: LazyLock<Mutex<HashMap<(String, String), u32>>> = LazyLock::new(Default::default);

fn executed(run: &str, step: &str) -> u32 {
    let mut executions = EXECUTIONS.lock();
    let count = executions.entry((run.to_owned(), step.to_owned())).or_insert(0);
    *count += 1;
    *count
}

fn executions(run: &str, step: &str) -> u32 {
    EXECUTIONS.lock().get(&(run.to_owned(), step.to_owned())).copied().unwrap_or(0)
}

/// A step that signals it started and waits to be let go.
struct Gate {
    started: Notify,
    release: Semaphore,
}

impl Default for Gate {
    fn default() -> Self {
        Gate { started: Notify::new(), release: Semaphore::new(0) }
    }
}

static GATES: LazyLock<Mutex<HashMap<String, Arc<Gate>>>> = LazyLock::new(Default::default);

fn gate(name: &str) -> Arc<Gate> {
    GATES.lock().entry(name.to_owned()).or_default().clone()
}

const fn def(id: &'static str, triggers: &'static [Trigger], handler: crate::function::Handler) -> FunctionDef {
    FunctionDef {
        id,
        name: None,
        triggers,
        options: Options::DEFAULT,
        handler,
        on_failure: None,
        location: SourceLocation { file: file!(), line: line!(), path: "hookflow::store::conformance::engines" },
    }
}

fn two_steps(inv: Invocation) -> HandlerFuture {
    Box::pin(async move {
        let step = inv.step();
        let run = inv.run_id().to_owned();
        let one: u32 = step.run("one", || async { Ok(executed(&run, "one")) }).await?;
        let two: u32 = step.run("two", || async { Ok(executed(&run, "two")) }).await?;
        Ok(json!([one, two]))
    })
}

fn sleeper(inv: Invocation) -> HandlerFuture {
    Box::pin(async move {
        let step = inv.step();
        let run = inv.run_id().to_owned();
        step.run("before", || async { Ok(executed(&run, "before")) }).await?;
        step.sleep("nap", Duration::from_secs(60)).await?;
        step.run("after", || async { Ok(executed(&run, "after")) }).await?;
        Ok(Value::Null)
    })
}

fn waiter(inv: Invocation) -> HandlerFuture {
    Box::pin(async move {
        let step = inv.step();
        let wait = WaitFor::timeout("1h").event("conf/approve").matching("data.id");
        let approval = step.wait_for_event::<Json>("approval", wait).await?;
        Ok(approval.map_or(Value::Null, |e| e.data))
    })
}

fn blocker(inv: Invocation) -> HandlerFuture {
    Box::pin(async move {
        let event = inv.event::<Json>()?;
        let gate = gate(event.data["gate"].as_str().unwrap_or_default());
        let step = inv.step();
        let run = inv.run_id().to_owned();
        step.run("slow", || async {
            executed(&run, "slow");
            gate.started.notify_one();
            gate.release.acquire().await.map(|p| p.forget()).map_err(crate::Error::msg)?;
            Ok(())
        })
        .await?;
        step.run("after", || async { Ok(executed(&run, "after")) }).await?;
        Ok(Value::Null)
    })
}

static TWO_STEPS: FunctionDef =
    def("conf-two-steps", &[Trigger::Event { name: Cow::Borrowed("conf/go"), expr: None }], two_steps);
static SLEEPER: FunctionDef =
    def("conf-sleeper", &[Trigger::Event { name: Cow::Borrowed("conf/sleep"), expr: None }], sleeper);
static WAITER: FunctionDef =
    def("conf-waiter", &[Trigger::Event { name: Cow::Borrowed("conf/wait"), expr: None }], waiter);
static BLOCKER: FunctionDef =
    def("conf-blocker", &[Trigger::Event { name: Cow::Borrowed("conf/block"), expr: None }], blocker);

// ---- harness --------------------------------------------------------------------------------

fn registry() -> Registry {
    let mut registry = Registry::empty();
    for def in [&TWO_STEPS, &SLEEPER, &WAITER, &BLOCKER] {
        if let Err(e) = registry.add(def) {
            panic!("{e}");
        }
    }
    registry
}

fn builder(store: &Arc<dyn Store>, clock: &TestClock) -> EngineBuilder {
    EngineBuilder::new("conformance", registry()).store(store.clone()).clock(Arc::new(clock.clone())).lease(LEASE)
}

async fn start(store: &Arc<dyn Store>, clock: &TestClock) -> Engine {
    match builder(store, clock).start().await {
        Ok(engine) => engine,
        Err(e) => panic!("the engine could not start: {e}"),
    }
}

/// An engine on a runtime of its own, which the caller drops to kill it.
async fn start_isolated(store: &Arc<dyn Store>, clock: &TestClock) -> (Engine, tokio::runtime::Runtime) {
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => panic!("no runtime for the engine: {e}"),
    };
    let started = runtime.spawn(builder(store, clock).start());
    match started.await {
        Ok(Ok(engine)) => (engine, runtime),
        Ok(Err(e)) => panic!("the engine could not start: {e}"),
        Err(e) => panic!("the engine's runtime failed: {e}"),
    }
}

async fn runs_of(store: &Arc<dyn Store>, function: &str) -> Vec<RunRecord> {
    let query = RunQuery { function_id: Some(function.to_owned()), limit: 1000, ..RunQuery::default() };
    match store.queries() {
        Some(queries) => queries.list_runs(&query).await.unwrap_or_default(),
        None => panic!("the store answers no queries"),
    }
}

/// Waits (in real time, at most 20 s) until every run of `function` satisfies `done`.
async fn wait_until(
    store: &Arc<dyn Store>,
    function: &str,
    count: usize,
    case: &str,
    done: impl Fn(&RunRecord) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let runs = runs_of(store, function).await;
        if runs.len() == count && runs.iter().all(&done) {
            return;
        }
        assert!(Instant::now() < deadline, "{case}: runs did not get there: {runs:#?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn send_to<'a>(engine: &'a Engine, name: &str, data: Value) -> impl Future<Output = Vec<String>> + 'a {
    let event = RawEvent::new(name, data);
    async move {
        match engine.send([event]).await {
            Ok(ids) => ids,
            Err(e) => panic!("send failed: {e}"),
        }
    }
}

// ---- cases ----------------------------------------------------------------------------------

async fn every_run_completes_once_whichever_engine_accepts_it(store: Arc<dyn Store>) {
    let case = "every_run_completes_once";
    let clock = TestClock::starting_now();
    let (a, b) = (start(&store, &clock).await, start(&store, &clock).await);
    let mut sends = Vec::new();
    for i in 0..40 {
        let engine = if rand::random::<bool>() { &a } else { &b };
        sends.push(send_to(engine, "conf/go", json!({ "n": i })));
    }
    for send in sends {
        send.await;
    }
    wait_until(&store, TWO_STEPS.id, 40, case, |r| r.status == RunStatus::Completed).await;
    for run in runs_of(&store, TWO_STEPS.id).await {
        assert_eq!(run.output, Some(json!([1, 1])), "{case}: each step ran once in run {}", run.id);
        assert_eq!((executions(&run.id, "one"), executions(&run.id, "two")), (1, 1), "{case}: run {}", run.id);
    }
    a.shutdown(Duration::from_secs(1)).await;
    b.shutdown(Duration::from_secs(1)).await;
}

async fn every_timer_fires_once(store: Arc<dyn Store>) {
    let case = "every_timer_fires_once";
    let clock = TestClock::starting_now();
    let (a, b) = (start(&store, &clock).await, start(&store, &clock).await);
    for i in 0..20 {
        send_to(if i % 2 == 0 { &a } else { &b }, "conf/sleep", json!({ "n": i })).await;
    }
    wait_until(&store, SLEEPER.id, 20, case, |r| r.status == RunStatus::Sleeping).await;
    clock.advance(Duration::from_secs(61));
    wait_until(&store, SLEEPER.id, 20, case, |r| r.status == RunStatus::Completed).await;
    for run in runs_of(&store, SLEEPER.id).await {
        let counts = (executions(&run.id, "before"), executions(&run.id, "after"));
        assert_eq!(counts, (1, 1), "{case}: the sleep of run {} fired once and nothing ran twice", run.id);
    }
    a.shutdown(Duration::from_secs(1)).await;
    b.shutdown(Duration::from_secs(1)).await;
}

async fn a_wait_on_one_engine_is_matched_by_an_event_on_the_other(store: Arc<dyn Store>) {
    let case = "a_wait_is_matched_across_engines";
    let clock = TestClock::starting_now();
    let (a, b) = (start(&store, &clock).await, start(&store, &clock).await);
    send_to(&a, "conf/wait", json!({ "id": "u1" })).await;
    send_to(&a, "conf/wait", json!({ "id": "u2" })).await;
    wait_until(&store, WAITER.id, 2, case, |r| r.status == RunStatus::Waiting).await;
    send_to(&b, "conf/approve", json!({ "id": "u2", "by": "b" })).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let runs = runs_of(&store, WAITER.id).await;
        let done: Vec<&RunRecord> = runs.iter().filter(|r| r.status == RunStatus::Completed).collect();
        if let [done] = done.as_slice() {
            assert_eq!(done.output, Some(json!({ "id": "u2", "by": "b" })), "{case}: the matching run got the event");
            let journal = store.journal(&done.id).await.unwrap_or_default();
            assert!(matches!(&journal[..], [s] if matches!(&s.memo, Memo::Data(v) if v["data"]["by"] == "b")));
            break;
        }
        assert!(Instant::now() < deadline, "{case}: the wait was not matched: {runs:#?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let runs = runs_of(&store, WAITER.id).await;
    assert_eq!(runs.iter().filter(|r| r.status == RunStatus::Waiting).count(), 1, "{case}: the other run still waits");
    a.shutdown(Duration::from_secs(1)).await;
    b.shutdown(Duration::from_secs(1)).await;
}

async fn a_cancel_sent_to_one_engine_stops_a_run_the_other_executes(store: Arc<dyn Store>) {
    let case = "a_cancel_stops_a_run_on_the_other_engine";
    let clock = TestClock::starting_now();
    let (a, b) = (start(&store, &clock).await, start(&store, &clock).await);
    let name = format!("cancel-{}", crate::engine::new_id());
    let gate = gate(&name);
    let started = gate.started.notified();
    send_to(&a, "conf/block", json!({ "gate": name })).await;
    started.await;
    let runs = runs_of(&store, BLOCKER.id).await;
    let run = runs.iter().find(|r| !r.status.is_terminal()).map(|r| r.id.clone()).unwrap_or_default();
    assert!(matches!(b.cancel(&run).await, Ok(true)), "{case}: the running run can be cancelled from the other engine");
    gate.release.add_permits(1);
    wait_until(&store, BLOCKER.id, runs.len(), case, |r| r.status.is_terminal()).await;
    let record = store.run(&run).await.ok().flatten();
    assert_eq!(record.as_ref().map(|r| r.status), Some(RunStatus::Cancelled), "{case}");
    assert_eq!(executions(&run, "after"), 0, "{case}: no step after the cancellation ran");
    a.shutdown(Duration::from_secs(1)).await;
    b.shutdown(Duration::from_secs(1)).await;
}

async fn a_dead_engine_s_runs_are_taken_over_when_their_leases_expire(store: Arc<dyn Store>) {
    let case = "a_dead_engine_s_runs_are_taken_over";
    let clock = TestClock::starting_now();
    let (a, runtime) = start_isolated(&store, &clock).await;
    let b = start(&store, &clock).await;
    let name = format!("crash-{}", crate::engine::new_id());
    let gate = gate(&name);
    let started = gate.started.notified();
    send_to(&a, "conf/block", json!({ "gate": name })).await;
    started.await;
    let runs = runs_of(&store, BLOCKER.id).await;
    let run = runs.iter().find(|r| !r.status.is_terminal()).map(|r| r.id.clone()).unwrap_or_default();
    // Engine A dies mid-step: its tasks are dropped, nothing is acknowledged or released.
    runtime.shutdown_background();
    // B takes the run over once A's lease expires, and runs the interrupted step again.
    let again = tokio::time::timeout(Duration::from_secs(20), gate.started.notified()).await;
    assert!(again.is_ok(), "{case}: B did not take the run over");
    gate.release.add_permits(1);
    wait_until(&store, BLOCKER.id, runs.len(), case, |r| r.status.is_terminal()).await;
    let record = store.run(&run).await.ok().flatten();
    assert_eq!(record.as_ref().map(|r| r.status), Some(RunStatus::Completed), "{case}: B finished the run");
    assert_eq!(executions(&run, "slow"), 2, "{case}: the step in flight when A died ran again, once");
    assert_eq!(executions(&run, "after"), 1, "{case}");
    drop(a);
    b.shutdown(Duration::from_secs(1)).await;
}
