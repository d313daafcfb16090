use super::*;

fn claimer(ttl: Duration) -> ClaimFor {
    ClaimFor { worker: "w".into(), functions: Arc::from(vec!["f".to_owned(), "g".to_owned()]), ttl }
}

fn plain(score: Millis) -> Arc<ItemFlow> {
    Arc::new(ItemFlow { score, ..ItemFlow::default() })
}

fn ids(leases: &[Lease]) -> Vec<&str> {
    leases.iter().map(|l| l.run_id.as_str()).collect()
}

fn slot(bucket: &str, limit: u32, per_run: bool) -> ConcurrencySlot {
    ConcurrencySlot { bucket: bucket.into(), limit, per_run }
}

fn limited(score: Millis, slots: Vec<ConcurrencySlot>) -> Arc<ItemFlow> {
    Arc::new(ItemFlow { score, concurrency: slots, ..ItemFlow::default() })
}

fn done(q: &LocalQueue, lease: &Lease, due: Option<Millis>, flow: Arc<ItemFlow>) {
    assert!(q.begin_commit(lease));
    q.end_commit(lease, Settle::Release(due, Some(flow)));
}

#[test]
fn claims_due_runs_lowest_score_first_and_fences_commits() {
    let q = LocalQueue::new();
    q.enqueue("r2", "f", Some(20), plain(20));
    q.enqueue("r1", "g", Some(10), plain(10));
    q.enqueue("r3", "f", Some(99), plain(99));
    q.enqueue("other", "h", Some(1), plain(1));
    let leases = q.claim(&claimer(Duration::from_secs(30)), 50, 10);
    assert_eq!(ids(&leases), vec!["r1", "r2"], "due runs of the claimer's functions, lowest score first");
    assert!(q.claim(&claimer(Duration::from_secs(30)), 50, 10).is_empty(), "a leased run is not claimed twice");
    assert_eq!(q.next_due(&["f".into(), "g".into()]), Some(99));
    let stale = Lease { token: leases[0].token + 100, ..leases[0].clone() };
    assert!(!q.begin_commit(&stale), "a stale token cannot commit");
    done(&q, &leases[0], Some(70), plain(10));
    assert!(!q.holds(&leases[0]));
    q.enqueue("r2", "f", Some(0), plain(20));
    assert!(q.holds(&leases[1]), "enqueue leaves a leased run to its holder");
    let again = q.claim(&claimer(Duration::from_secs(30)), 80, 10);
    assert_eq!(ids(&again), vec!["r1"]);
}

#[test]
fn expired_leases_are_claimable_again_unless_committing() {
    let q = LocalQueue::new();
    q.enqueue("r1", "f", Some(0), plain(0));
    q.enqueue("r2", "f", Some(0), plain(1));
    let first = q.claim(&claimer(Duration::ZERO), 0, 10);
    assert_eq!(first.len(), 2);
    assert!(q.begin_commit(&first[1]));
    std::thread::sleep(Duration::from_millis(5));
    let second = q.claim(&claimer(Duration::from_secs(30)), 0, 10);
    assert_eq!(ids(&second), vec!["r1"]);
    assert_ne!(second[0].token, first[0].token);
    assert!(!q.begin_commit(&first[0]), "the first worker's lease is gone");
    assert_eq!(q.renew(&first, Duration::from_secs(30)), vec![false, true]);
}

#[test]
fn a_horizon_keeps_later_runs_out_of_memory() {
    let q = LocalQueue::with_horizon(100);
    q.enqueue("soon", "f", Some(50), plain(50));
    q.enqueue("later", "f", Some(500), plain(500));
    assert_eq!(q.next_due(&["f".into()]), Some(50));
    assert_eq!(q.claim(&claimer(Duration::from_secs(1)), 1_000, 10).len(), 1);
    q.extend_horizon(1_000);
    q.enqueue("later", "f", Some(500), plain(500));
    assert_eq!(q.claim(&claimer(Duration::from_secs(1)), 1_000, 10).len(), 1);
}

#[test]
fn a_full_bucket_holds_back_only_the_runs_that_need_it() {
    let q = LocalQueue::new();
    for (i, key) in ["a", "a", "a", "b"].iter().enumerate() {
        let flow = limited(i as Millis, vec![slot(&format!("fn:f:{key}"), 2, false)]);
        q.enqueue(&format!("r{i}"), "f", Some(0), flow);
    }
    let first = q.claim(&claimer(Duration::from_secs(30)), 0, 10);
    assert_eq!(ids(&first), vec!["r0", "r1", "r3"], "two of key a, and key b beside them");
    assert_eq!(q.held_back("r2"), Some(HeldBack::Concurrency { bucket: "fn:f:a".into() }));
    assert!(q.claim(&claimer(Duration::from_secs(30)), 0, 10).is_empty(), "a stays full");
    // The pass of r0 suspends: its slot frees and r2 goes.
    done(&q, &first[0], Some(1_000), limited(0, vec![slot("fn:f:a", 2, false)]));
    assert_eq!(q.next_due(&["f".into()]), Some(Millis::MIN), "a freed slot makes the held run due");
    assert_eq!(ids(&q.claim(&claimer(Duration::from_secs(30)), 0, 10)), vec!["r2"]);
}

#[test]
fn every_limit_must_have_room() {
    let q = LocalQueue::new();
    let two = |i: Millis, key: &str| limited(i, vec![slot("fn:f:", 2, false), slot(&format!("fn:f:{key}"), 1, false)]);
    q.enqueue("r0", "f", Some(0), two(0, "a"));
    q.enqueue("r1", "f", Some(0), two(1, "a"));
    q.enqueue("r2", "f", Some(0), two(2, "b"));
    q.enqueue("r3", "f", Some(0), two(3, "c"));
    let got = q.claim(&claimer(Duration::from_secs(30)), 0, 10);
    assert_eq!(ids(&got), vec!["r0", "r2"], "one per key, two in all");
}

#[test]
fn a_run_level_limit_is_held_from_start_to_end() {
    let q = LocalQueue::new();
    let flow = |i: Millis, started: bool| {
        Arc::new(ItemFlow { score: i, started, concurrency: vec![slot("fn:f:", 1, true)], ..ItemFlow::default() })
    };
    q.enqueue("r0", "f", Some(0), flow(0, false));
    q.enqueue("r1", "f", Some(0), flow(1, false));
    let first = q.claim(&claimer(Duration::from_secs(30)), 0, 10);
    assert_eq!(ids(&first), vec!["r0"]);
    // r0 sleeps: it keeps its slot, so r1 does not start.
    done(&q, &first[0], Some(100), flow(0, true));
    assert!(q.claim(&claimer(Duration::from_secs(30)), 50, 10).is_empty(), "a sleeping run keeps its run-level slot");
    // r0 wakes: a started run needs no new slot.
    let resumed = q.claim(&claimer(Duration::from_secs(30)), 100, 10);
    assert_eq!(ids(&resumed), vec!["r0"]);
    done(&q, &resumed[0], None, flow(0, true));
    assert_eq!(ids(&q.claim(&claimer(Duration::from_secs(30)), 100, 10)), vec!["r1"], "its end frees the slot");
}

#[test]
fn a_started_run_never_waits_behind_runs_that_wait_for_it() {
    let q = LocalQueue::new();
    let flow = |i: Millis, started: bool| {
        Arc::new(ItemFlow { score: i, started, concurrency: vec![slot("fn:f:", 1, true)], ..ItemFlow::default() })
    };
    q.enqueue("old", "f", Some(0), flow(10, false));
    let c = claimer(Duration::from_secs(30));
    let first = q.claim(&c, 0, 10);
    done(&q, &first[0], Some(100), flow(10, true));
    // A run of higher priority (lower score) arrives and is held back by the sleeping run.
    q.enqueue("urgent", "f", Some(0), flow(1, false));
    assert!(q.claim(&c, 50, 10).is_empty());
    assert_eq!(ids(&q.claim(&c, 100, 10)), vec!["old"], "the sleeper wakes past the run waiting for its slot");
}

#[test]
fn throttles_space_starts_and_a_burst_admits_several_at_once() {
    let q = LocalQueue::new();
    let throttle = |i: Millis, started: bool| {
        Arc::new(ItemFlow {
            score: i,
            started,
            throttle: vec![ThrottleSlot { bucket: "f:0:".into(), limit: 2, period_ms: 1_000, burst: 2 }],
            ..ItemFlow::default()
        })
    };
    for i in 0..5 {
        q.enqueue(&format!("r{i}"), "f", Some(0), throttle(i, false));
    }
    let c = claimer(Duration::from_secs(30));
    assert_eq!(ids(&q.claim(&c, 0, 10)), vec!["r0", "r1"], "an idle throttle admits its burst");
    assert_eq!(q.held_back("r2"), Some(HeldBack::Throttle { until: 500 }));
    assert!(q.claim(&c, 499, 10).is_empty());
    assert_eq!(q.next_due(&["f".into()]), Some(500));
    assert_eq!(ids(&q.claim(&c, 500, 10)), vec!["r2"], "then one every period / limit");
    assert!(q.claim(&c, 999, 10).is_empty());
    assert_eq!(ids(&q.claim(&c, 1_000, 10)), vec!["r3"]);
    // A started run (a step after a sleep) is not throttled.
    q.enqueue("resumed", "f", Some(1_000), throttle(-1, true));
    assert_eq!(ids(&q.claim(&c, 1_000, 10)), vec!["resumed"]);
    assert_eq!(q.take_dirty_throttles(), vec![("throttle:f:0:".to_owned(), 2_000_000)], "in microseconds");
}

#[test]
fn a_start_blocked_by_concurrency_spends_no_throttle_token() {
    let q = LocalQueue::new();
    let flow = |i: Millis| {
        Arc::new(ItemFlow {
            score: i,
            concurrency: vec![slot("fn:f:", 1, false)],
            throttle: vec![ThrottleSlot { bucket: "f:0:".into(), limit: 1, period_ms: 1_000, burst: 2 }],
            ..ItemFlow::default()
        })
    };
    q.enqueue("r0", "f", Some(0), flow(0));
    q.enqueue("r1", "f", Some(0), flow(1));
    let c = claimer(Duration::from_secs(30));
    let first = q.claim(&c, 0, 10);
    assert_eq!(ids(&first), vec!["r0"], "r1 waits for the slot, not the throttle");
    assert!(q.claim(&c, 10, 10).is_empty());
    done(&q, &first[0], None, flow(0));
    assert_eq!(ids(&q.claim(&c, 10, 10)), vec!["r1"], "the burst's second token was still there");
}

#[test]
fn priority_reorders_due_work_and_deadlines_pass_every_limit() {
    let q = LocalQueue::new();
    let flow = |score: Millis, deadline: Option<Millis>| {
        Arc::new(ItemFlow { score, deadline, concurrency: vec![slot("fn:f:", 1, false)], ..ItemFlow::default() })
    };
    q.enqueue("old", "f", Some(0), flow(1_000, None));
    q.enqueue("urgent", "f", Some(0), flow(900, None));
    q.enqueue("late", "f", Some(0), flow(1_100, Some(5_000)));
    let c = claimer(Duration::from_secs(30));
    assert_eq!(ids(&q.claim(&c, 1_000, 10)), vec!["urgent"], "a higher priority goes first");
    assert!(q.claim(&c, 4_999, 10).is_empty(), "the slot is taken");
    assert_eq!(ids(&q.claim(&c, 5_000, 10)), vec!["late"], "past its deadline, a run is claimed to be cancelled");
}

#[test]
fn a_throttle_faster_than_one_start_per_millisecond_keeps_its_rate() {
    let q = LocalQueue::new();
    let fast = |i: Millis| {
        Arc::new(ItemFlow {
            score: i,
            throttle: vec![ThrottleSlot { bucket: "f:0:".into(), limit: 10_000, period_ms: 1_000, burst: 1 }],
            ..ItemFlow::default()
        })
    };
    for i in 0..30 {
        q.enqueue(&format!("r{i}"), "f", Some(0), fast(i));
    }
    let c = claimer(Duration::from_secs(30));
    assert_eq!(q.claim(&c, 0, 100).len(), 10, "10,000 a second is 10 a millisecond");
    assert_eq!(q.claim(&c, 0, 100).len(), 0);
    assert_eq!(q.claim(&c, 1, 100).len(), 10);
}
