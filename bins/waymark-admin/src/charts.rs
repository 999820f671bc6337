//! `report --svg DIR`: each journey's charts as SVG files
//! (`<journey>-graph.svg`, `-daily.svg`, `-variants.svg` with splits),
//! drawn by `waymark_analytics::charts`.

use std::path::Path;

use anyhow::Context;
use waymark_analytics::JourneyMetrics;
use waymark_analytics::charts::Chart;

/// Writes every journey's charts into `dir` (created if missing).
pub(crate) fn write_all(dir: &Path, journeys: &[JourneyMetrics]) -> anyhow::Result<()> {
    let mut files = Vec::new();
    for journey in journeys {
        let name = file_stem(&journey.journey);
        for chart in Chart::for_journey(journey) {
            files.push((format!("{name}-{}.svg", chart.name()), chart.svg(journey)?));
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
pub(crate) fn file_stem(id: &str) -> String {
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
