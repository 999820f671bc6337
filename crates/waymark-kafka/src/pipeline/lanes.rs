//! The pipeline on a store several workers share: a batch is staged a
//! partition (lane) at a time, so that what each partition's events
//! decide belongs to the worker that owns the partition.

use waymark::runtime::{IngestReport, Ticket};

use super::{Pending, Pipeline};
use crate::publisher::Publisher;
use crate::source::SourceError;

impl Pipeline {
    /// Stages a batch a partition at a time (on a shared store each
    /// partition's outbox entries and timers belong to its owner), the
    /// positions with the last; returns the reports added up and the
    /// last ticket (durable, all are).
    pub(super) fn stage_by_lane(
        &self,
        batch: &Pending,
        offsets: &[(&str, u64)],
    ) -> Result<(IngestReport, Ticket), SourceError> {
        let mut total = IngestReport::default();
        let mut last = None;
        for (topic, partition, events) in &batch.lanes {
            let lane = format!("{topic}/{partition}");
            let (report, ticket) = self.waymark.stage_batch_in(Some(&lane), events, &[])?;
            total.processed += report.processed;
            total.duplicates += report.duplicates;
            total.unresolvable += report.unresolvable;
            total.sends += report.sends;
            last = Some(ticket);
        }
        // The positions, with nothing else (or alone, for a batch of dead
        // letters only): durable with, or after, every lane's decisions.
        let (_, ticket) = self.waymark.stage_batch_in(None, &[], offsets)?;
        Ok((total, last.map_or(ticket, |l| l.max(ticket))))
    }

    /// The publisher (of dead letters, and of deliveries on Kafka).
    pub(crate) fn publisher(&self) -> &Publisher {
        &self.publisher
    }

    /// Forgets the positions kept for partitions: read from the store
    /// again when next needed (another worker may have moved them).
    pub(crate) fn forget_positions(&self) {
        self.committed.lock().clear();
    }
}
