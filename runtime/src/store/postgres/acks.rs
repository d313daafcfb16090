//! Acks written in groups. Every ack goes to one task per store, which writes whatever is
//! waiting when it is free in one transaction ([`write::ack_group`]): a lone ack is written
//! at once, as it always was ([`write::ack`]), and acks that arrive while a group is being
//! written wait for it and go together in the next, so the transaction's cost (its begin, its
//! fence, its statements' planning and start-up, its commit's WAL flush) is shared by many
//! passes. An ack is answered only once its group has committed.
//!
//! A group that fails (a constraint, a deadlock, Postgres gone) is rolled back and its acks
//! are written one by one, each as a lone ack (with its retries), so that a bad ack fails alone.

use std::collections::HashSet;
use std::sync::Weak;

use tokio::sync::{mpsc, oneshot};

use super::write::{self, Acking, Effects, Member};
use super::Shared;
use crate::store::{Acked, ClaimFor, Lease, StoreError};

/// How many acks one transaction takes at most.
const MAX_GROUP: usize = 256;

/// What an ack is answered: `None` when its lease was lost.
pub(super) type Written = Result<Option<(Acked, Effects)>, StoreError>;

/// An ack waiting to be written.
pub(super) struct Job {
    pub(super) lease: Lease,
    pub(super) rows: Acking,
    /// Its own lease owner (see `Shared::own_claim`).
    pub(super) claim: Option<ClaimFor>,
    pub(super) reply: oneshot::Sender<Written>,
}

/// The store's ack writer: takes what is waiting, up to [`MAX_GROUP`], and writes it.
pub(super) async fn run(shared: Weak<Shared>, mut jobs: mpsc::UnboundedReceiver<Job>) {
    while let Some(first) = jobs.recv().await {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match jobs.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        let Some(s) = shared.upgrade() else { return };
        write_group(&s, group).await;
    }
}

async fn write_group(s: &Shared, mut group: Vec<Job>) {
    // Two acks of one run (never sent by the engine) are not written in one group: the second
    // goes after, and finds the lease that the first gave back.
    let mut runs = HashSet::new();
    let mut later = Vec::new();
    let mut i = 0;
    while i < group.len() {
        if runs.insert(group[i].lease.run_id.clone()) {
            i += 1;
        } else {
            later.push(group.remove(i));
        }
    }
    if group.len() == 1 {
        for job in group {
            alone(s, job, false).await;
        }
    } else {
        let members: Vec<Member<'_>> =
            group.iter().map(|j| Member { lease: &j.lease, rows: &j.rows, claim: j.claim.as_ref() }).collect();
        match write::ack_group(s, &members).await {
            Ok(written) => {
                drop(members);
                for (job, written) in group.into_iter().zip(written) {
                    drop(job.reply.send(Ok(written)));
                }
            }
            Err(e) => {
                drop(members);
                tracing::debug!(error = ?e, acks = group.len(), "a group of acks failed; writing them one by one");
                // One by one, at once: a commit whose answer was lost may have claimed runs for
                // an ack that emits events, which its own write first gives back.
                futures::future::join_all(group.into_iter().map(|job| {
                    let claimed = job.rows.claims_runs();
                    alone(s, job, claimed)
                }))
                .await;
            }
        }
    }
    for job in later {
        alone(s, job, false).await;
    }
}

/// Writes one ack as its own transaction; `tried`: an earlier attempt may have committed.
async fn alone(s: &Shared, job: Job, tried: bool) {
    let Job { lease, rows, claim, reply } = job;
    let written =
        s.retrying_claimed_after("ack", claim.as_ref(), tried, || write::ack(s, &lease, &rows, claim.as_ref())).await;
    drop(reply.send(written));
}
