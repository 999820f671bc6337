//! `waymark-admin model fit`: BG/NBD fitted on each person's history of
//! one event, over the store (the model saved there) or an event file.

use anyhow::Context;
use serde_json::json;
use waymark::WorkspaceConfig;
use waymark_analytics::predict::{BgNbd, Customer, Fitting, customer_of};
use waymark_core::{Profile, Timestamp, format_timestamp};

use crate::open::{open_store, read};

/// The unit histories are measured in.
const UNIT_DAYS: i64 = 1;

/// Fits the model and returns what is printed. With `store`, the model is
/// saved there too (`model:bgnbd`).
pub(crate) fn fit(
    store: Option<&std::path::Path>,
    events: Option<&std::path::Path>,
    event: &str,
    at: Option<Timestamp>,
) -> anyhow::Result<serde_json::Value> {
    let unit = chrono::TimeDelta::days(UNIT_DAYS);
    let mut customers = Vec::new();
    let end;
    let mut saved_in = None;
    if let Some(file) = events {
        let text = read(file)?;
        let (identity, invalid) =
            waymark::identity_from_events(&text, WorkspaceConfig::default().identity);
        if invalid > 0 {
            tracing::warn!(invalid, file = %file.display(), "lines that are not valid events were skipped");
        }
        end = match at {
            Some(at) => at,
            None => identity
                .profiles()
                .filter_map(|p| p.events.values().map(|s| s.last_seen).max())
                .max()
                .context("the file holds no event")?,
        };
        customers.extend(
            identity
                .profiles()
                .filter_map(|p| history(p, event, end, unit)),
        );
    } else {
        let waymark = open_store(store, WorkspaceConfig::default(), None)?;
        end = at.unwrap_or_else(chrono::Utc::now);
        waymark.for_each_profile(|p| customers.extend(history(p, event, end, unit)))?;
        saved_in = Some(waymark);
    }
    anyhow::ensure!(
        !customers.is_empty(),
        "no one has a `{event}` event before {}: nothing to fit",
        format_timestamp(end)
    );
    let fit = BgNbd::fit(&customers)?;
    let model = json!({
        "model": "bgnbd",
        "event": event,
        "unit": "day",
        "at": format_timestamp(end),
        "customers": customers.len(),
        "params": fit.model,
        "log_likelihood": fit.log_likelihood,
        "iterations": fit.iterations,
    });
    if let Some(waymark) = saved_in {
        waymark.save_model("bgnbd", &model)?;
    }
    Ok(model)
}

fn history(
    profile: &Profile,
    event: &str,
    end: Timestamp,
    unit: chrono::TimeDelta,
) -> Option<Customer> {
    customer_of(profile.events.get(event)?, end, unit)
}
