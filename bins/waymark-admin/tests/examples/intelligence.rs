//! The journey that chooses per person: back in stock, at each person's
//! best hour, on their best channel, with the message an `optimize` node
//! picks.

use super::check;

/// Maya taps pushes at 21:xx Berlin time and Leo opens at 07:xx in New
/// York: each is told at that hour (Ivy, with no history, at the 18:00
/// default). Maya's first message goes by email (no data: the listed
/// order); she ignores it, so the second goes by push, which she taps.
/// The variants are Thompson draws, the same on every run.
#[test]
fn back_in_stock() {
    check(
        "back-in-stock",
        r#"
        2026-11-02T10:00:00Z entered best_hour maya
        2026-11-02T10:00:00Z wait best_hour maya until=2026-11-02T20:00:00Z
        2026-11-02T20:00:00Z split pick maya reason=thompson next=tell_plain variant=plain
        2026-11-02T20:00:00Z send tell_plain maya channel=email template=restock_plain reason=best_channel value={"email":0.1,"push":0.1}
        2026-11-02T20:00:00Z exited tell_plain maya reason=completed
        2026-11-03T15:00:00Z entered best_hour leo
        2026-11-03T15:00:00Z wait best_hour leo until=2026-11-04T12:00:00Z
        2026-11-03T15:00:00Z entered best_hour ivy
        2026-11-03T15:00:00Z wait best_hour ivy until=2026-11-03T18:00:00Z
        2026-11-03T18:00:00Z split pick ivy reason=thompson next=tell_plain variant=plain
        2026-11-03T18:00:00Z send tell_plain ivy channel=email template=restock_plain reason=best_channel value={"email":0.1}
        2026-11-03T18:00:00Z exited tell_plain ivy reason=completed
        2026-11-04T12:00:00Z split pick leo reason=thompson next=tell_urgent variant=urgent
        2026-11-04T12:00:00Z send tell_urgent leo channel=email template=restock_urgent reason=best_channel value={"email":0.1}
        2026-11-04T12:00:00Z exited tell_urgent leo reason=completed
        2026-11-04T12:30:00Z goal tell_urgent leo variant=urgent
        2026-11-10T10:00:00Z entered best_hour maya
        2026-11-10T10:00:00Z wait best_hour maya until=2026-11-10T20:00:00Z
        2026-11-10T20:00:00Z split pick maya reason=thompson next=tell_urgent variant=urgent
        2026-11-10T20:00:00Z send tell_urgent maya channel=push template=restock_urgent reason=best_channel value={"email":0.0909,"push":0.1}
        2026-11-10T20:00:00Z exited tell_urgent maya reason=completed
        2026-11-10T20:40:00Z goal tell_urgent maya variant=urgent
"#,
    );
}
