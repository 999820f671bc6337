//! A journey's charts as SVG (feature `charts`), for `report --svg` and
//! the dashboard:
//!
//! | chart | what it shows |
//! |---|---|
//! | [`graph`] | the journey graph: each node's arrivals and drop-offs, edges as wide as their flow |
//! | [`daily`] | conversions per day, treatment against control |
//! | [`variants`] | each split's variants: entrants and conversion rate (only with splits) |

pub mod daily;
pub mod graph;
pub mod variants;

use crate::JourneyMetrics;

/// A chart that could not be drawn.
#[derive(Debug, thiserror::Error)]
#[error("cannot draw the chart: {0}")]
pub struct ChartError(String);

/// Which chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chart {
    Graph,
    Daily,
    Variants,
}

impl Chart {
    /// The charts worth drawing for `journey` (variants only with splits).
    pub fn for_journey(journey: &JourneyMetrics) -> Vec<Chart> {
        let mut charts = vec![Chart::Graph, Chart::Daily];
        if !journey.counters.variants.is_empty() {
            charts.push(Chart::Variants);
        }
        charts
    }

    /// Its name in file names and URLs.
    pub fn name(self) -> &'static str {
        match self {
            Chart::Graph => "graph",
            Chart::Daily => "daily",
            Chart::Variants => "variants",
        }
    }

    pub fn from_name(name: &str) -> Option<Chart> {
        [Chart::Graph, Chart::Daily, Chart::Variants]
            .into_iter()
            .find(|c| c.name() == name)
    }

    /// Draws it.
    pub fn svg(self, journey: &JourneyMetrics) -> Result<String, ChartError> {
        match self {
            Chart::Graph => Ok(graph::svg(journey)),
            Chart::Daily => daily::svg(journey),
            Chart::Variants => variants::svg(journey),
        }
    }
}

/// Treatment and control colours, the same in every chart.
const TREATMENT: plotters::style::RGBColor = plotters::style::RGBColor(0x1f, 0x77, 0xb4);
const CONTROL: plotters::style::RGBColor = plotters::style::RGBColor(0xff, 0x7f, 0x0e);
