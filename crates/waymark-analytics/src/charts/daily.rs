//! Conversions per day (UTC), treatment against control, with each
//! group's conversion rate over the whole period in the legend.

use crate::JourneyMetrics;
use plotters::prelude::*;

use super::{CONTROL, ChartError, TREATMENT};

const SIZE: (u32, u32) = (720, 360);

pub fn svg(journey: &JourneyMetrics) -> Result<String, ChartError> {
    // Every day from the first to the last, a day without records at zero.
    let mut days = Vec::new();
    if let (Some((first, _)), Some((last, _))) = (
        journey.daily.first_key_value(),
        journey.daily.last_key_value(),
    ) {
        let mut day = *first;
        while day <= *last {
            days.push((day, journey.daily.get(&day).copied().unwrap_or_default()));
            day = day.succ_opt().unwrap_or(*last + chrono::Days::new(1));
        }
    }
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(chart_error)?;
        let top = days
            .iter()
            .map(|(_, g)| g.treatment.conversions.max(g.control.conversions))
            .max()
            .unwrap_or(0)
            .max(1);
        let last = days.len().max(1) as i32;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!("{}: conversions per day", journey.journey),
                ("sans-serif", 18),
            )
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(48)
            .build_cartesian_2d(-1..last, 0u64..top + top / 5 + 1)
            .map_err(chart_error)?;
        let labels: Vec<String> = days
            .iter()
            .map(|(d, _)| d.format("%m-%d").to_string())
            .collect();
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(labels.len().clamp(1, 10) + 2)
            .x_label_formatter(&|i| {
                usize::try_from(*i)
                    .ok()
                    .and_then(|i| labels.get(i).cloned())
                    .unwrap_or_default()
            })
            .y_desc("conversions")
            .draw()
            .map_err(chart_error)?;
        let total = journey.counters.groups;
        for (name, color, pick, group) in [
            ("treatment", TREATMENT, 0usize, total.treatment),
            ("control", CONTROL, 1, total.control),
        ] {
            let points: Vec<(i32, u64)> = days
                .iter()
                .enumerate()
                .map(|(i, (_, g))| {
                    let g = if pick == 0 { g.treatment } else { g.control };
                    (i as i32, g.conversions)
                })
                .collect();
            let rate = if group.entrants == 0 {
                "no entrants".to_owned()
            } else {
                format!(
                    "{:.1}% of {}",
                    100.0 * group.conversions as f64 / group.entrants as f64,
                    group.entrants
                )
            };
            chart
                .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
                .map_err(chart_error)?
                .label(format!("{name} ({rate})"))
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 16, y)], color.stroke_width(2))
                });
            chart
                .draw_series(
                    points
                        .into_iter()
                        .map(|p| Circle::new(p, 3, color.filled())),
                )
                .map_err(chart_error)?;
        }
        chart
            .configure_series_labels()
            .border_style(BLACK)
            .background_style(WHITE.mix(0.9))
            .position(SeriesLabelPosition::UpperRight)
            .draw()
            .map_err(chart_error)?;
        root.present().map_err(chart_error)?;
    }
    Ok(out)
}

pub(super) fn chart_error<E: std::fmt::Display>(error: E) -> ChartError {
    ChartError(error.to_string())
}
