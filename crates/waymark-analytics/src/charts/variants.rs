//! Variant allocation: per split node, each variant's entrants as a bar,
//! labelled with its conversion rate.

use crate::JourneyMetrics;
use plotters::prelude::*;

use super::daily::chart_error;
use super::{ChartError, TREATMENT};

const SIZE: (u32, u32) = (720, 360);

pub fn svg(journey: &JourneyMetrics) -> Result<String, ChartError> {
    let variants = &journey.counters.variants;
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(chart_error)?;
        let top = variants
            .iter()
            .map(|v| v.group.entrants)
            .max()
            .unwrap_or(0)
            .max(1);
        let labels: Vec<String> = variants
            .iter()
            .map(|v| format!("{}: {}", v.node, v.variant))
            .collect();
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!("{}: variant allocation", journey.journey),
                ("sans-serif", 18),
            )
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(48)
            .build_cartesian_2d(0.0..variants.len() as f64, 0u64..top + top / 4 + 1)
            .map_err(chart_error)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(variants.len() + 1)
            .x_label_formatter(&|_| String::new())
            .y_desc("entrants")
            .draw()
            .map_err(chart_error)?;
        for (i, v) in variants.iter().enumerate() {
            let x = i as f64;
            let g = v.group;
            chart
                .draw_series([Rectangle::new(
                    [(x + 0.1, 0), (x + 0.9, g.entrants)],
                    TREATMENT.mix(0.7).filled(),
                )])
                .map_err(chart_error)?;
            let rate = if g.entrants == 0 {
                String::new()
            } else {
                format!(
                    ", {:.1}% converted",
                    100.0 * g.conversions as f64 / g.entrants as f64
                )
            };
            chart
                .draw_series([Text::new(
                    format!("{} ({}{rate})", labels[i], g.entrants),
                    (x + 0.1, g.entrants + top / 12 + 1),
                    ("sans-serif", 13),
                )])
                .map_err(chart_error)?;
        }
        root.present().map_err(chart_error)?;
    }
    Ok(out)
}
