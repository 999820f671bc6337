//! `waymark-admin model fit`: BG/NBD fitted on each person's history of
//! one event; `model engagement`: everyone's engagement added up. Over
//! the store (the model saved there) or an event file.

use anyhow::Context;
use serde_json::json;
use waymark::WorkspaceConfig;
use waymark_analytics::predict::{BgNbd, Customer, Fitting, customer_of};
use waymark_core::{Profile, Timestamp, format_timestamp};
use waymark_engine::predict::PurchaseModel;
use waymark_engine::{Engagement, Engine};

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
        let identity = people_of(file)?;
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

/// Adds up everyone's engagement over the store (saving it there as
/// `model:engagement`) or an event file; returns what is printed.
pub(crate) fn engagement(
    store: Option<&std::path::Path>,
    events: Option<&std::path::Path>,
) -> anyhow::Result<serde_json::Value> {
    let mut totals = Engagement::default();
    let mut saved_in = None;
    if let Some(file) = events {
        let identity = people_of(file)?;
        identity.profiles().for_each(|p| totals.add(p));
    } else {
        let waymark = open_store(store, WorkspaceConfig::default(), None)?;
        waymark.for_each_profile(|p| totals.add(p))?;
        saved_in = Some(waymark);
    }
    let mut model = serde_json::to_value(&totals)?;
    model["model"] = json!("engagement");
    let prior = totals.channel_prior();
    model["rates"] = totals
        .channels
        .keys()
        .map(|c| (c.to_string(), json!(prior.rate(*c))))
        .collect::<serde_json::Map<_, _>>()
        .into();
    if let Some(waymark) = saved_in {
        waymark.save_model("engagement", &model)?;
    }
    Ok(model)
}

/// Gives test mode a model `model fit` or `model engagement` printed.
pub(crate) fn apply(engine: &mut Engine, path: &std::path::Path) -> anyhow::Result<()> {
    let text = read(path)?;
    let value: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{}: not JSON", path.display()))?;
    let wrong = || {
        format!(
            "{}: not a model `model fit` or `model engagement` printed",
            path.display()
        )
    };
    match value["model"].as_str() {
        Some("bgnbd") => {
            let model: PurchaseModel = serde_json::from_value(value).with_context(wrong)?;
            engine.set_purchase_model(Some(model));
        }
        Some("engagement") => {
            let totals: Engagement = serde_json::from_value(value).with_context(wrong)?;
            engine.set_engagement(&totals);
        }
        _ => anyhow::bail!(wrong()),
    }
    Ok(())
}

/// The people an event file describes (invalid lines skipped, with a warning).
fn people_of(file: &std::path::Path) -> anyhow::Result<waymark_identity::Identity> {
    let text = read(file)?;
    let (identity, invalid) =
        waymark::identity_from_events(&text, WorkspaceConfig::default().identity);
    if invalid > 0 {
        tracing::warn!(invalid, file = %file.display(), "lines that are not valid events were skipped");
    }
    Ok(identity)
}

fn history(
    profile: &Profile,
    event: &str,
    end: Timestamp,
    unit: chrono::TimeDelta,
) -> Option<Customer> {
    customer_of(profile.events.get(event)?, end, unit)
}
