//! `report --svg DIR`: each journey's charts as SVG files a person would
//! rather look at than the table:
//!
//! | file | what it shows |
//! |---|---|
//! | `<journey>-graph.svg` | the journey graph: each node's arrivals and drop-offs, edges as wide as their flow |
//! | `<journey>-daily.svg` | conversions per day, treatment against control |
//! | `<journey>-variants.svg` | each split's variants: entrants and conversion rate (only with splits) |

mod daily;
mod graph;
mod variants;

use std::path::Path;

use anyhow::Context;
use waymark_analytics::JourneyMetrics;

/// Writes every journey's charts into `dir` (created if missing).
pub(crate) fn write_all(dir: &Path, journeys: &[JourneyMetrics]) -> anyhow::Result<()> {
    let mut files = Vec::new();
    for journey in journeys {
        let name = file_stem(&journey.journey);
        files.push((format!("{name}-graph.svg"), graph::svg(journey)));
        files.push((format!("{name}-daily.svg"), daily::svg(journey)?));
        if !journey.counters.variants.is_empty() {
            files.push((format!("{name}-variants.svg"), variants::svg(journey)?));
        }
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for (file, svg) in files {
        let path = dir.join(file);
        std::fs::write(&path, svg).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

/// A journey id as a file name (ids are slugs; anything else becomes `_`).
fn file_stem(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Treatment and control colours, the same in every chart.
const TREATMENT: plotters::style::RGBColor = plotters::style::RGBColor(0x1f, 0x77, 0xb4);
const CONTROL: plotters::style::RGBColor = plotters::style::RGBColor(0xff, 0x7f, 0x0e);
