//! An event's way in: it gets its id and time, the runs of the functions it triggers (with
//! their `cancel_on` matchers), the waiting steps it resolves and the runs it cancels, and all
//! of it is committed as one batch. The runs created are claimed by this engine as they are
//! inserted, so their first pass starts without a round trip through the queue. A run that
//! its gates (rate limit, idempotency, singleton) refuse is not created: the store records the
//! skip, the sender is told, and an `inngest/function.skipped` event announces it.

use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::trigger_event::{EventJson, Incoming};
use super::{new_id, Change, Core, SendError, TriggerEvent};
use crate::event::RawEvent;
use crate::expr::EqualityJoin;
use crate::function::FunctionSpec;
use crate::model::{
    Cancellation, CancelledBy, EventSource, Memo, Millis, ParentRef, ResumedBy, RunRecord, RunState, RunStatus,
    SendReceipt, SkipRecord, StepDetail, StepKind, StepRecord, StoredEvent, WaitSpec,
};
use crate::store::{
    Accepts, Batch, CancelRequest, ClaimFor, CreatedRun, Join, Matcher, MatcherKind, NewEvent, NewRun, Resolution,
    StoreError,
};

/// A prepared event with what it starts, ready for a batch, and its JSON form if preparing it
/// built one (kept for the runs it starts, whose conditions read it again).
pub(crate) struct Prepared {
    pub(crate) new: NewEvent,
    pub(crate) json: Option<Arc<Value>>,
}

/// The matchers of runs created earlier in the same batch: an event may cancel a run that an
/// event before it in the batch started. The trigger is there when the condition needs it.
#[derive(Default)]
struct BatchMatchers {
    matchers: Vec<(Matcher, Option<Arc<Value>>)>,
}

impl Core {
    /// Accepts events: committed, with everything they start, resolve and cancel, when this
    /// returns. Returns their ids.
    pub(crate) async fn send(
        self: &Arc<Self>,
        raws: Vec<RawEvent>,
        source: EventSource,
    ) -> Result<Vec<String>, SendError> {
        Ok(self.send_receipt(raws, source).await?.ids)
    }

    /// [`Core::send`], answering also which functions skipped the events, and why.
    pub(crate) async fn send_receipt(
        self: &Arc<Self>,
        raws: Vec<RawEvent>,
        source: EventSource,
    ) -> Result<SendReceipt, SendError> {
        if self.is_stopping() {
            return Err(SendError::ShuttingDown);
        }
        let mut batch = Vec::with_capacity(raws.len());
        let mut local = BatchMatchers::default();
        for (i, raw) in raws.into_iter().enumerate() {
            let prepared = self.prepare(raw, source, i, &mut local).await?;
            batch.push(prepared);
        }
        let ids = batch.iter().map(|p| p.new.event.id.clone()).collect();
        let accepts = self.commit(batch, Vec::new()).await?;
        let (mut skipped, mut windowed) = (Vec::new(), Vec::new());
        for accepted in accepts.events {
            skipped.extend(accepted.skipped);
            windowed.extend(accepted.windowed);
        }
        Ok(SendReceipt { ids, skipped, windowed })
    }

    /// Commits prepared events (and event-less runs), then starts the passes of the runs this
    /// engine claimed; then sends an `inngest/function.skipped` event for each run the store
    /// skipped (but for runs of such events, which would go on forever).
    pub(crate) async fn commit(
        self: &Arc<Self>,
        batch: Vec<Prepared>,
        runs: Vec<(NewRun, Arc<TriggerEvent>)>,
    ) -> Result<Accepts, StoreError> {
        // What a skip's notice needs of its event, for the events whose runs the store may skip.
        let triggers: Vec<Option<(String, Option<Arc<Value>>)>> = batch
            .iter()
            .map(|p| {
                let gated = p.new.runs.iter().any(|r| !r.gates.rates.is_empty() || r.run.flow.singleton.is_some());
                (gated && p.new.event.name != SKIPPED_EVENT).then(|| (p.new.event.name.clone(), p.json.clone()))
            })
            .collect();
        let accepts = self.commit_once(batch, runs).await?;
        let skips = accepts
            .events
            .iter()
            .zip(triggers)
            .filter_map(|(accepted, trigger)| trigger.map(|t| (accepted, t)))
            .flat_map(|(accepted, (name, json))| {
                accepted.skipped.iter().map(move |skip| (skip.clone(), name.clone(), json.clone()))
            })
            .collect();
        self.announce_skips(skips).await?;
        Ok(accepts)
    }

    /// Sends an `inngest/function.skipped` event for each run the store skipped, given with its
    /// event's name and JSON (when it was built).
    pub(crate) async fn announce_skips(
        self: &Arc<Self>,
        skips: Vec<(SkipRecord, String, Option<Arc<Value>>)>,
    ) -> Result<(), StoreError> {
        if skips.is_empty() {
            return Ok(());
        }
        let mut notices = Vec::with_capacity(skips.len());
        for (skip, name, json) in &skips {
            notices.push(self.skipped_event(skip, name, json.as_deref()).await?);
        }
        self.commit_once(notices, Vec::new()).await?;
        Ok(())
    }

    /// `inngest/function.skipped` for a skipped run of the event `trigger_name` (whose JSON is
    /// `trigger`, when it was built): the function, the event (by reference, as system events
    /// keep it, unless something listens for the name) and why. Its id is derived from the
    /// function and the event, so it is sent once.
    async fn skipped_event(
        &self,
        skip: &SkipRecord,
        trigger_name: &str,
        trigger: Option<&Value>,
    ) -> Result<Prepared, StoreError> {
        let mut data = Map::new();
        data.insert("function_id".into(), Value::String(skip.function_id.clone()));
        data.insert("event_id".into(), Value::String(skip.event_id.clone()));
        data.insert("event_name".into(), Value::String(trigger_name.to_owned()));
        data.insert("reason".into(), serde_json::to_value(&skip.reason)?);
        data.insert("message".into(), Value::String(skip.reason.to_string()));
        let observed = !self.functions().listeners(SKIPPED_EVENT).is_empty() || self.store.observes(SKIPPED_EVENT);
        if observed {
            let event = match trigger {
                Some(json) => json.clone(),
                None => match self.store.events(std::slice::from_ref(&skip.event_id)).await?.pop() {
                    Some(event) => event.into_raw().to_json(),
                    None => Value::Null,
                },
            };
            data.insert("event".into(), event);
        }
        let id = crate::replay::hash_step_id(&format!("{}-{}-{SKIPPED_EVENT}", skip.function_id, skip.event_id));
        self.internal_event(id, SKIPPED_EVENT, data, Some(skip.event_id.clone()), observed).await
    }

    /// One commit: the batch, then the passes of the runs this engine claimed.
    async fn commit_once(
        self: &Arc<Self>,
        batch: Vec<Prepared>,
        runs: Vec<(NewRun, Arc<TriggerEvent>)>,
    ) -> Result<Accepts, StoreError> {
        let claim = self.claim_on_insert(batch.iter().map(|p| p.new.runs.len()).sum::<usize>() + runs.len());
        let (mut prepared, jsons): (Vec<NewEvent>, Vec<Option<Arc<Value>>>) =
            batch.into_iter().map(|p| (p.new, p.json)).unzip();
        let (mut lone, lone_triggers): (Vec<NewRun>, Vec<Arc<TriggerEvent>>) = runs.into_iter().unzip();
        let now = self.clock.now_ms();
        if claim.is_some() {
            // Claimed as they are written, so written as started; except runs under flow
            // control, which the queue may hold back: they start when their first pass does.
            for run in prepared.iter_mut().flat_map(|e| e.runs.iter_mut()).chain(lone.iter_mut()) {
                if run.run.flow.is_empty() && run.gates.window.is_none() {
                    mark_started(&mut run.run, now);
                }
            }
        }
        let store_batch = Batch { events: prepared, runs: lone, at: now };
        let accepts = self.store.accept(&store_batch, claim.as_ref()).await?;
        self.bump();
        let Batch { events, runs, .. } = store_batch;
        for ((new, json), accepted) in events.into_iter().zip(jsons).zip(&accepts.events) {
            if !accepted.new {
                continue;
            }
            self.notify(Change::Event { id: new.event.id.clone(), name: new.event.name.clone() });
            if !accepted.runs.is_empty() {
                let NewEvent { event, runs, .. } = new;
                let trigger = TriggerEvent::with_json(Arc::from(vec![event.into_raw()]), json);
                self.started(runs, &accepted.runs, &trigger);
            }
        }
        for ((run, trigger), created) in runs.into_iter().zip(lone_triggers).zip(&accepts.runs) {
            self.started(vec![run], std::slice::from_ref(created), &trigger);
        }
        Ok(accepts)
    }

    /// After a commit: announces the runs created and starts the passes of those claimed.
    pub(crate) fn started(self: &Arc<Self>, runs: Vec<NewRun>, created: &[CreatedRun], trigger: &Arc<TriggerEvent>) {
        for new in runs {
            let Some(created) = created.iter().find(|c| c.id == new.run.id) else { continue };
            self.notify(Change::Run {
                id: new.run.id.clone(),
                function_id: new.run.function_id.clone(),
                status: new.run.status,
            });
            if let Some(lease) = created.lease.clone() {
                // A window's run (a batch that filled in this write) may have taken later
                // events of the write: its pass reads it from the store.
                let preload = new.gates.window.is_none().then(|| super::execute::Preload {
                    run: new.run,
                    trigger: trigger.clone(),
                    steps: new.steps,
                });
                self.spawn_pass(lease, preload);
            }
        }
    }

    /// The claim for runs a batch creates, when this engine has room to execute them now;
    /// otherwise they wait in the queue for whoever has.
    fn claim_on_insert(&self, runs: usize) -> Option<ClaimFor> {
        (runs > 0 && !self.is_stopping() && self.passes.available_permits() > 0).then(|| self.claim_for())
    }

    /// An event ready to commit: id and time filled in, validated, with the runs it starts and
    /// what it resolves and cancels.
    async fn prepare(
        &self,
        mut raw: RawEvent,
        source: EventSource,
        index: usize,
        local: &mut BatchMatchers,
    ) -> Result<Prepared, SendError> {
        crate::event_rules::check(&mut raw, source)
            .map_err(|e| SendError::Invalid { index, message: e.to_string() })?;
        let now = self.clock.now_ms();
        if raw.id.is_empty() {
            raw.id = new_id();
        }
        if raw.ts == 0 {
            raw.ts = now;
        }
        let event = StoredEvent {
            id: raw.id,
            name: raw.name,
            data: raw.data,
            ts: raw.ts,
            user: raw.user,
            source,
            received_at: now,
        };
        let incoming = Incoming::new(&event);
        let runs = self.triggered(&event.name, &event.id, &incoming, now);
        let (resolves, cancels) = self.matched(&event, &incoming, now, local).await?;
        for run in &runs {
            for matcher in &run.matchers {
                let trigger = crate::store::MatcherIndex::needs_trigger(matcher).then(|| incoming.json().clone());
                local.matchers.push((matcher.clone(), trigger));
            }
        }
        let json = incoming.into_json();
        Ok(Prepared { new: NewEvent { runs, resolves, cancels, ..NewEvent::new(event) }, json })
    }

    /// The runs an event triggers: one per function whose trigger (name and condition) matches.
    fn triggered(&self, name: &str, id: &str, trigger: &dyn EventJson, now: Millis) -> Vec<NewRun> {
        let functions = self.functions();
        let mut out: Vec<NewRun> = Vec::new();
        for listener in functions.listeners(name) {
            if out.iter().any(|r| r.run.function_id == listener.spec.id) {
                continue;
            }
            let matches = match &listener.expr {
                None => true,
                Some(expr) => match self.exprs.test(expr, &[("event", trigger.json())]) {
                    Ok(m) => m,
                    Err(e) => {
                        tracing::warn!(function_id = %listener.spec.id, event = %name, error = %e, "trigger expression failed; function skipped");
                        false
                    }
                },
            };
            if matches {
                out.push(self.triggered_run(&listener.spec, id, trigger, now));
            }
        }
        out
    }

    /// A run of `spec` that the event `event_id` triggers: a new run with the gates an event's
    /// run passes (rate limit, idempotency, singleton, debounce, batching), which invocations
    /// and reruns do not. A debounced or batched function's run is a window's, due when it
    /// would close.
    pub(crate) fn triggered_run(
        &self,
        spec: &FunctionSpec,
        event_id: &str,
        trigger: &dyn EventJson,
        now: Millis,
    ) -> NewRun {
        let mut run = self.new_run(spec, vec![event_id.to_owned()], None, trigger, now);
        let (gates, lock) = super::flow::gates(&self.exprs, spec, trigger);
        run.gates = gates;
        run.run.flow.singleton = lock;
        let ts = trigger.json().get("ts").and_then(Value::as_i64).unwrap_or(now);
        if let Some((window, wait)) = super::flow::window(&self.exprs, spec, trigger, ts) {
            // Due when the window it would open closes; its start deadline counts from then.
            let due = now.saturating_add(wait);
            run.run.wake_at = Some(due);
            run.run.flow = crate::store::window_moved(run.run.flow, Some(now), due);
            if matches!(window.rule, crate::store::WindowRule::Batch { .. }) {
                // A batch's run has many events: rate limits and idempotency do not apply to
                // it, as in Inngest (an event that runs on its own passes them).
                run.gates.rates.clear();
            }
            run.gates.window = Some(window);
        }
        run
    }

    /// A new, queued run of `spec` for these events, with its `cancel_on` matchers.
    pub(crate) fn new_run(
        &self,
        spec: &FunctionSpec,
        event_ids: Vec<String>,
        parent: Option<ParentRef>,
        trigger: &dyn EventJson,
        now: Millis,
    ) -> NewRun {
        let run = RunRecord {
            id: new_id(),
            function_id: spec.id.clone(),
            event_ids,
            status: RunStatus::Queued,
            attempt: 0,
            created_at: now,
            started_at: None,
            ended_at: None,
            output: None,
            error: None,
            wake_at: Some(now),
            state: RunState::default(),
            parent,
            rerun_of: None,
            cancellation: None,
            flow: super::flow::flow_keys(&self.exprs, spec, trigger, now),
        };
        let matchers = self.cancel_matchers(spec, &run, trigger);
        NewRun { matchers, ..NewRun::new(run) }
    }

    /// A run's `cancel_on` conditions as matchers.
    pub(crate) fn cancel_matchers(
        &self,
        spec: &FunctionSpec,
        run: &RunRecord,
        trigger: &dyn EventJson,
    ) -> Vec<Matcher> {
        spec.options
            .cancel_on
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let deadline = c.timeout.map_or(Millis::MAX, |t| run.created_at.saturating_add(crate::step::millis(t)));
                let expr = c.expr.as_deref();
                Matcher {
                    run_id: run.id.clone(),
                    id: format!("cancel:{i}"),
                    kind: MatcherKind::Cancel,
                    name: String::new(),
                    event: c.event.to_string(),
                    expr: expr.map(str::to_owned),
                    join: expr.and_then(|e| join_of(e, trigger)),
                    trigger: trigger.event_id().map(str::to_owned),
                    since: run.created_at,
                    deadline,
                }
            })
            .collect()
    }

    /// The waiting steps an incoming event resolves and the runs it cancels.
    async fn matched(
        &self,
        event: &StoredEvent,
        incoming: &dyn EventJson,
        now: Millis,
        local: &BatchMatchers,
    ) -> Result<(Vec<Resolution>, Vec<CancelRequest>), StoreError> {
        let name = event.name.as_str();
        let mut candidates: Vec<(Matcher, Option<Arc<Value>>)> =
            local.matchers.iter().filter(|(m, _)| m.event == name).cloned().collect();
        if self.store.observes(name) {
            let found = self.store.matchers(name, incoming.json(), now).await?;
            candidates.extend(found.into_iter().map(|c| (c.matcher, c.trigger)));
        }
        let (mut resolves, mut cancels): (Vec<Resolution>, Vec<CancelRequest>) = (Vec::new(), Vec::new());
        for (matcher, trigger) in candidates {
            if matcher.deadline < now || !self.satisfies(&matcher, trigger.as_deref(), incoming) {
                continue;
            }
            match matcher.kind {
                MatcherKind::Wait => resolves.push(Resolution {
                    matcher: Some(matcher.id.clone()),
                    record: StepRecord {
                        run_id: matcher.run_id.clone(),
                        hash: matcher.id.clone(),
                        name: matcher.name.clone(),
                        kind: StepKind::Wait,
                        memo: Memo::Data(incoming.json().as_ref().clone()),
                        attempts: 1,
                        started_at: matcher.since,
                        ended_at: now,
                        detail: StepDetail {
                            waited_for: Some(WaitSpec { event: matcher.event.clone(), expr: matcher.expr.clone() }),
                            resumed_by: Some(ResumedBy::Event {
                                event_id: event.id.clone(),
                                event_name: name.to_owned(),
                            }),
                            ..StepDetail::default()
                        },
                    },
                }),
                MatcherKind::Cancel => {
                    if !cancels.iter().any(|c: &CancelRequest| c.run_id == matcher.run_id) {
                        cancels.push(CancelRequest {
                            run_id: matcher.run_id.clone(),
                            cancellation: Cancellation {
                                by: CancelledBy::Event { event_id: event.id.clone(), event_name: name.to_owned() },
                                at: now,
                            },
                        });
                    }
                }
            }
        }
        Ok((resolves, cancels))
    }

    /// Whether `incoming` satisfies a matcher's condition (`trigger` is the run's trigger, given
    /// when the condition must be evaluated).
    fn satisfies(&self, matcher: &Matcher, trigger: Option<&Value>, incoming: &dyn EventJson) -> bool {
        let Some(expr) = &matcher.expr else { return true };
        if let Some(join) = &matcher.join {
            return crate::store::value_at(incoming.json(), &join.path).as_ref() == Some(&join.value);
        }
        let trigger = trigger.unwrap_or(&Value::Null);
        match self.exprs.test(expr, &[("event", trigger), ("async", incoming.json())]) {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(run_id = %matcher.run_id, error = %e, "a wait or cancel_on condition failed; it does not match");
                false
            }
        }
    }

    /// A system event (`inngest/function.finished`, ...) and the runs it starts. Inngest's
    /// `data.event` (the run's triggering event) is copied in only when something observes the
    /// name; otherwise the store keeps it by reference, which saves a copy of every event per run.
    pub(crate) async fn system_event(
        &self,
        name: &str,
        run: &RunRecord,
        mut data: Map<String, Value>,
        trigger: &TriggerEvent,
    ) -> Result<Prepared, StoreError> {
        let embeds = trigger.event_id().map(str::to_owned);
        let observed = !self.functions().listeners(name).is_empty() || self.store.observes(name);
        if embeds.is_none() || observed {
            data.insert("event".into(), trigger.json().as_ref().clone());
        }
        let id = crate::replay::hash_step_id(&format!("{}-{name}", run.id));
        self.internal_event(id, name, data, embeds, observed).await
    }

    /// An event the engine emits, and the runs it starts. Unless something `observed` its name,
    /// nothing can start: the event keeps `embeds` (the id of the event readers find under
    /// `data.event`) by reference.
    async fn internal_event(
        &self,
        id: String,
        name: &str,
        data: Map<String, Value>,
        embeds: Option<String>,
        observed: bool,
    ) -> Result<Prepared, StoreError> {
        let now = self.clock.now_ms();
        let event = StoredEvent {
            id,
            name: name.to_owned(),
            data: Value::Object(data).into(),
            ts: now,
            user: None,
            source: EventSource::Internal,
            received_at: now,
        };
        if !observed {
            return Ok(Prepared { new: NewEvent { embeds, ..NewEvent::new(event) }, json: None });
        }
        let incoming = Incoming::new(&event);
        let runs = self.triggered(&event.name, &event.id, &incoming, now);
        let (resolves, cancels) = self.matched(&event, &incoming, now, &BatchMatchers::default()).await?;
        let json = incoming.into_json();
        Ok(Prepared { new: NewEvent { runs, resolves, cancels, ..NewEvent::new(event) }, json })
    }

    /// The event and run that `step.invoke` (or the dev UI's "Invoke") starts: one run of
    /// `spec` and of no other, with an `inngest/function.invoked` event carrying `data`.
    pub(crate) fn invocation(
        &self,
        spec: &FunctionSpec,
        data: Value,
        event_id: String,
        parent: Option<ParentRef>,
    ) -> Prepared {
        let mut data = match data {
            Value::Object(map) => map,
            Value::Null => Map::new(),
            other => {
                let mut m = Map::new();
                m.insert("value".into(), other);
                m
            }
        };
        let source_run = parent.as_ref().map(|p| p.run_id.clone());
        let source_step = parent.as_ref().map(|p| p.step.clone());
        data.insert("_inngest".into(), json!({"fn_id": spec.id, "source_run_id": source_run, "step": source_step}));
        let now = self.clock.now_ms();
        let event = StoredEvent {
            id: event_id,
            name: "inngest/function.invoked".to_owned(),
            data: Value::Object(data).into(),
            ts: now,
            user: None,
            source: EventSource::Internal,
            received_at: now,
        };
        let incoming = Incoming::new(&event);
        let runs = vec![self.new_run(spec, vec![event.id.clone()], parent, &incoming, now)];
        let json = incoming.into_json();
        Prepared { new: NewEvent { runs, ..NewEvent::new(event) }, json }
    }

    /// Starts one run of `spec` with an `inngest/function.invoked` event. Returns the run id
    /// (`None` if the event id was taken).
    pub(crate) async fn invoke(
        self: &Arc<Self>,
        spec: &FunctionSpec,
        data: Value,
        event_id: String,
        parent: Option<ParentRef>,
    ) -> Result<Option<String>, SendError> {
        let prepared = self.invocation(spec, data, event_id, parent);
        let accepts = self.commit(vec![prepared], Vec::new()).await?;
        Ok(accepts.events.first().and_then(|a| a.runs.first()).map(|r| r.id.clone()))
    }

    /// Replay and Edit & Replay.
    pub(crate) async fn replay_event(
        self: &Arc<Self>,
        event_id: &str,
        data: Option<Value>,
    ) -> Result<Option<String>, SendError> {
        let Some(event) = self.store.events(&[event_id.to_owned()]).await?.pop() else { return Ok(None) };
        let mut raw = event.to_raw();
        raw.id = String::new();
        raw.ts = 0;
        if let Some(data) = data {
            raw.data = data.into();
        }
        let ids = self.send(vec![raw], EventSource::Replay).await?;
        Ok(ids.into_iter().next())
    }

    /// A new run of a run's function with its events (or an edited copy of the first), with
    /// the journal up to `from_step` copied in.
    pub(crate) async fn rerun(
        self: &Arc<Self>,
        run_id: &str,
        from_step: Option<&str>,
        data: Option<Value>,
    ) -> Result<Option<String>, SendError> {
        let Some(old) = self.store.run(run_id).await? else { return Ok(None) };
        let Some(spec) = self.function(&old.function_id) else {
            return Err(SendError::Invalid {
                index: 0,
                message: format!("function `{}` is not registered in this app", old.function_id),
            });
        };
        let old_events = self.store.events(&old.event_ids).await?;
        let now = self.clock.now_ms();
        let mut edited = None;
        if let Some(data) = data {
            let Some(first) = old_events.first() else {
                return Err(SendError::Invalid { index: 0, message: format!("run `{run_id}` has no event to edit") });
            };
            edited = Some(StoredEvent {
                id: new_id(),
                name: first.name.clone(),
                data: data.into(),
                ts: now,
                user: first.user.clone(),
                source: EventSource::Replay,
                received_at: now,
            });
        }
        let raws: Vec<RawEvent> = match &edited {
            Some(event) => vec![event.to_raw()],
            None => old_events.iter().map(StoredEvent::to_raw).collect(),
        };
        let trigger = TriggerEvent::new(Arc::from(raws));
        let event_ids = match &edited {
            Some(event) => vec![event.id.clone()],
            None => old.event_ids.clone(),
        };
        let mut run = self.new_run(&spec, event_ids, None, &*trigger, now);
        run.run.rerun_of = Some(old.id.clone());
        if let Some(from) = from_step {
            let journal = self.store.journal(run_id).await?;
            let Some(cut) = journal.iter().position(|s| s.hash == from) else {
                return Err(SendError::Invalid {
                    index: 0,
                    message: format!("run `{run_id}` has no recorded step `{from}`"),
                });
            };
            run.steps = journal
                .into_iter()
                .take(cut)
                .map(|mut s| {
                    s.run_id = run.run.id.clone();
                    s.detail.copied_from = Some(old.id.clone());
                    s
                })
                .collect();
        }
        let id = run.run.id.clone();
        // The new event (with its run) and the copied steps are one commit.
        match edited {
            Some(event) => {
                let new = NewEvent { runs: vec![run], ..NewEvent::new(event) };
                self.commit(vec![Prepared { new, json: None }], Vec::new()).await?;
            }
            None => {
                self.commit(Vec::new(), vec![(run, trigger)]).await?;
            }
        }
        Ok(Some(id))
    }
}

/// What the engine sends for a run that was skipped (beyond Inngest, which sends nothing).
pub(crate) const SKIPPED_EVENT: &str = "inngest/function.skipped";

/// A run created for a pass that starts right away is `Running` from its first write.
fn mark_started(run: &mut RunRecord, now: Millis) {
    run.status = RunStatus::Running;
    run.started_at.get_or_insert(now);
}

/// An equality condition as a join on the trigger's value, when it is one.
pub(crate) fn join_of(expr: &str, trigger: &dyn EventJson) -> Option<Join> {
    let join = EqualityJoin::parse(expr)?;
    // The trigger lacks the field: `null == x` can still hold, so the condition is evaluated.
    let value = crate::store::value_at(trigger.json(), &join.event_path)?;
    Some(Join { path: join.async_path, value })
}
