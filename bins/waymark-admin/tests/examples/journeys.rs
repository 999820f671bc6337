//! The journeys teams write first: welcome series, nurture, carts,
//! trials, appointments, win-backs, segments, dates, schedules, policies.

use std::process::Command;

use serde_json::Value;

use super::{check, compare, simulate, simulate_until, simulate_with};

#[test]
fn welcome() {
    check(
        "welcome",
        r#"
        - rejected - - reason=field `timestamp`: "yesterday" is not an RFC 3339 timestamp: premature end of input line=8
        2026-10-05T14:00:00Z entered welcome_email u-ann
        2026-10-05T14:00:00Z send welcome_email u-ann channel=email template=welcome
        2026-10-05T14:00:00Z wait wait_day u-ann until=2026-10-06T14:00:00Z
        2026-10-05T15:00:00Z entered welcome_email u-bob
        2026-10-05T15:00:00Z send welcome_email u-bob channel=email template=welcome
        2026-10-05T15:00:00Z wait wait_day u-bob until=2026-10-06T15:00:00Z
        2026-10-05T16:00:00Z entered welcome_email u-cy
        2026-10-05T16:00:00Z send welcome_email u-cy channel=email template=welcome
        2026-10-05T16:00:00Z wait wait_day u-cy until=2026-10-06T16:00:00Z
        2026-10-06T14:00:00Z branch profile_complete u-ann next=next_morning
        2026-10-06T14:00:00Z wait next_morning u-ann until=2026-10-07T07:00:00Z
        2026-10-06T15:00:00Z branch profile_complete u-bob next=ask_details
        2026-10-06T15:00:00Z send ask_details u-bob channel=push template=complete_profile
        2026-10-06T15:00:00Z wait wait_details u-bob until=2026-10-09T15:00:00Z
        2026-10-06T16:00:00Z branch profile_complete u-cy next=ask_details
        2026-10-06T16:00:00Z send ask_details u-cy channel=email template=complete_profile
        2026-10-06T16:00:00Z wait wait_details u-cy until=2026-10-09T16:00:00Z
        2026-10-07T07:00:00Z send tips_email u-ann channel=email template=getting_started
        2026-10-07T07:00:00Z exited done u-ann reason=completed
        2026-10-07T10:00:00Z wait next_morning u-bob until=2026-10-08T09:00:00Z
        2026-10-08T09:00:00Z send tips_email u-bob channel=email template=getting_started
        2026-10-08T09:00:00Z exited done u-bob reason=completed
        2026-10-08T11:00:00Z goal done u-ann
        2026-10-09T16:00:00Z passed mark_incomplete u-cy
        2026-10-09T16:00:00Z exited done u-cy reason=completed
"#,
    );
}

#[test]
fn lead_nurture() {
    check(
        "lead-nurture",
        r#"
        2026-10-01T10:00:00Z entered guide_followup lead-1
        2026-10-01T10:00:00Z send guide_followup lead-1 channel=email template=guide_followup
        2026-10-01T10:00:00Z wait wait_pricing lead-1 until=2026-10-06T10:00:00Z
        2026-10-01T10:30:00Z entered guide_followup lead-2
        2026-10-01T10:30:00Z send guide_followup lead-2 channel=email template=guide_followup
        2026-10-01T10:30:00Z wait wait_pricing lead-2 until=2026-10-06T10:30:00Z
        2026-10-02T09:15:00Z passed mark_sales_ready lead-1
        2026-10-02T09:15:00Z send alert_sales lead-1 channel=webhook template=notify_sales
        2026-10-02T09:15:00Z exited done lead-1 reason=completed
        2026-10-03T16:00:00Z goal done lead-1
        2026-10-06T10:30:00Z send case_study lead-2 channel=email template=case_study
        2026-10-06T10:30:00Z exited done lead-2 reason=completed
        2026-11-10T10:00:00Z entered guide_followup lead-2
        2026-11-10T10:00:00Z send guide_followup lead-2 channel=email template=guide_followup
        2026-11-10T10:00:00Z wait wait_pricing lead-2 until=2026-11-15T10:00:00Z
        2026-11-15T10:00:00Z send case_study lead-2 channel=email template=case_study
        2026-11-15T10:00:00Z exited done lead-2 reason=completed
"#,
    );
}

#[test]
fn abandoned_cart() {
    check(
        "abandoned-cart",
        r#"
        2026-10-01T12:00:00Z entered wait_1h cust-1
        2026-10-01T12:00:00Z wait wait_1h cust-1 until=2026-10-01T13:00:00Z
        2026-10-01T12:10:00Z entered wait_1h cust-2
        2026-10-01T12:10:00Z wait wait_1h cust-2 until=2026-10-01T13:10:00Z
        2026-10-01T12:20:00Z entered wait_1h cust-3
        2026-10-01T12:20:00Z wait wait_1h cust-3 until=2026-10-01T13:20:00Z
        2026-10-01T12:30:00Z entered wait_1h cust-4
        2026-10-01T12:30:00Z wait wait_1h cust-4 until=2026-10-01T13:30:00Z
        2026-10-01T12:45:00Z entered wait_1h cust-6
        2026-10-01T12:45:00Z wait wait_1h cust-6 until=2026-10-01T13:45:00Z
        2026-10-01T12:50:00Z goal wait_1h cust-3 value=42
        2026-10-01T12:50:00Z exited wait_1h cust-3 reason=goal
        2026-10-01T13:00:00Z branch vip cust-1 next=reminder_email
        2026-10-01T13:00:00Z send reminder_email cust-1 channel=email template=cart_reminder
        2026-10-01T13:00:00Z wait wait_click cust-1 until=2026-10-02T13:00:00Z
        2026-10-01T13:10:00Z branch vip cust-2 next=vip_email
        2026-10-01T13:10:00Z send vip_email cust-2 channel=email template=vip_cart
        2026-10-01T13:10:00Z exited done cust-2 reason=completed
        2026-10-01T13:30:00Z branch vip cust-4 next=reminder_email
        2026-10-01T13:30:00Z send reminder_email cust-4 channel=email template=cart_reminder
        2026-10-01T13:30:00Z wait wait_click cust-4 until=2026-10-02T13:30:00Z
        2026-10-01T13:45:00Z branch vip cust-6 next=reminder_email
        2026-10-01T13:45:00Z send reminder_email cust-6 channel=email template=cart_reminder
        2026-10-01T13:45:00Z wait wait_click cust-6 until=2026-10-02T13:45:00Z
        2026-10-01T15:00:00Z exited done cust-4 reason=completed
        2026-10-01T18:00:00Z goal done cust-2 value=310.5
        2026-10-02T13:00:00Z send push_nudge cust-1 channel=push template=cart_push
        2026-10-02T13:00:00Z exited done cust-1 reason=completed
        2026-10-02T13:45:00Z suppressed push_nudge cust-6 channel=push template=cart_push reason=unreachable
        2026-10-02T13:45:00Z exited done cust-6 reason=completed
"#,
    );
}

#[test]
fn trial_conversion() {
    check(
        "trial-conversion",
        r#"
        2026-09-01T09:00:00Z entered day_4 acct-1
        2026-09-01T09:00:00Z wait day_4 acct-1 until=2026-09-05T09:00:00Z
        2026-09-01T09:00:00Z entered day_4 acct-2
        2026-09-01T09:00:00Z wait day_4 acct-2 until=2026-09-05T09:00:00Z
        2026-09-01T09:00:00Z entered day_4 acct-3
        2026-09-01T09:00:00Z wait day_4 acct-3 until=2026-09-05T09:00:00Z
        2026-09-01T09:00:00Z entered day_4 acct-4
        2026-09-01T09:00:00Z wait day_4 acct-4 until=2026-09-05T09:00:00Z
        2026-09-03T10:00:00Z exited day_4 acct-4 reason=exit_on
        2026-09-05T09:00:00Z branch used_reports acct-1 next=day_12
        2026-09-05T09:00:00Z wait day_12 acct-1 until=2026-09-13T09:00:00Z
        2026-09-05T09:00:00Z branch used_reports acct-2 next=reports_nudge
        2026-09-05T09:00:00Z send reports_nudge acct-2 channel=email template=reports_nudge
        2026-09-05T09:00:00Z wait day_12 acct-2 until=2026-09-13T09:00:00Z
        2026-09-05T09:00:00Z branch used_reports acct-3 next=reports_nudge
        2026-09-05T09:00:00Z send reports_nudge acct-3 channel=email template=reports_nudge
        2026-09-05T09:00:00Z wait day_12 acct-3 until=2026-09-13T09:00:00Z
        2026-09-07T12:00:00Z goal day_12 acct-3 value=99.0
        2026-09-07T12:00:00Z exited day_12 acct-3 reason=goal
        2026-09-13T09:00:00Z send trial_ending acct-1 channel=email template=trial_ending
        2026-09-13T09:00:00Z exited done acct-1 reason=completed
        2026-09-13T09:00:00Z send trial_ending acct-2 channel=email template=trial_ending
        2026-09-13T09:00:00Z exited done acct-2 reason=completed
"#,
    );
}

#[test]
fn missed_appointment() {
    check(
        "missed-appointment",
        r#"
        2026-10-01T14:00:00Z entered sms_now pat-ny
        2026-10-01T14:00:00Z send sms_now pat-ny channel=sms template=reschedule_sms
        2026-10-01T14:00:00Z wait next_morning pat-ny until=2026-10-02T13:00:00Z
        2026-10-01T14:00:00Z entered sms_now pat-tokyo
        2026-10-01T14:00:00Z send sms_now pat-tokyo channel=sms template=reschedule_sms
        2026-10-01T14:00:00Z wait next_morning pat-tokyo until=2026-10-02T00:00:00Z
        2026-10-01T14:30:00Z entered sms_now pat-uk
        2026-10-01T14:30:00Z send sms_now pat-uk channel=sms template=reschedule_sms
        2026-10-01T14:30:00Z wait next_morning pat-uk until=2026-10-02T08:00:00Z
        2026-10-01T16:00:00Z goal next_morning pat-uk
        2026-10-01T16:00:00Z exited next_morning pat-uk reason=goal
        2026-10-02T00:00:00Z suppressed email_followup pat-tokyo channel=email template=reschedule_email reason=unreachable
        2026-10-02T00:00:00Z wait wait_2d pat-tokyo until=2026-10-04T00:00:00Z
        2026-10-02T13:00:00Z send email_followup pat-ny channel=email template=reschedule_email
        2026-10-02T13:00:00Z wait wait_2d pat-ny until=2026-10-04T13:00:00Z
        2026-10-04T00:00:00Z send call_centre pat-tokyo channel=webhook template=call_centre_task
        2026-10-04T00:00:00Z exited done pat-tokyo reason=completed
        2026-10-04T13:00:00Z send call_centre pat-ny channel=webhook template=call_centre_task
        2026-10-04T13:00:00Z exited done pat-ny reason=completed
"#,
    );
}

/// The win-back journey has a 10% holdout and an A/B split: check the
/// structure the rules promise rather than which member lands where.
#[test]
fn win_back() {
    let trace = simulate("win-back");
    let of = |kind: &str, user: &str| -> Vec<&Value> {
        trace
            .iter()
            .filter(|r| r["kind"] == kind && r["user_id"] == user)
            .collect()
    };
    let entered: Vec<&str> = trace
        .iter()
        .filter(|r| r["kind"] == "entered")
        .filter_map(|r| r["user_id"].as_str())
        .collect();
    assert_eq!(
        entered.len(),
        19,
        "every cancellation but the fraud one enters"
    );
    assert!(!entered.contains(&"member-07"));
    let mut controls = 0;
    for i in (0..20).filter(|i| *i != 7) {
        let user = format!("member-{i:02}");
        assert_eq!(of("split", &user).len(), 1, "{user} is split once");
        let control = of("entered", &user)[0].get("control") == Some(&Value::Bool(true));
        let sends = of("send", &user);
        let opened = [1, 4, 9].contains(&i);
        if control {
            controls += 1;
            assert!(
                sends.is_empty(),
                "{user} is in the holdout and gets nothing"
            );
            assert!(
                of("suppressed", &user)
                    .iter()
                    .all(|r| r["reason"] == "holdout")
            );
        } else {
            assert_eq!(
                sends.len(),
                if opened { 1 } else { 2 },
                "{user}: offer, and a last chance unless opened"
            );
            if let Some(last) = sends.iter().find(|r| r["node"] == "last_chance") {
                let has_phone = i % 3 == 0;
                assert_eq!(
                    last["channel"],
                    if has_phone { "sms" } else { "email" },
                    "{user}"
                );
            }
        }
    }
    assert!(
        (1..19).contains(&controls),
        "some but not all members are held out: {controls}"
    );
    let goal = of("goal", "member-02");
    assert_eq!(goal.len(), 1);
    assert_eq!(goal[0]["value"], 29.0);
}

/// Identity in a journey: an anonymous cart on a phone folds into the
/// shopper's known profile when they log in, and the reminder reaches their
/// email; a shared iPad stays two people; an all-junk id is refused.
#[test]
fn abandoned_cart_across_devices() {
    let trace = simulate_with("abandoned-cart", "abandoned-cart-identity");
    let merged: Vec<&Value> = trace.iter().filter(|r| r["kind"] == "merged").collect();
    assert_eq!(merged.len(), 1);
    assert_eq!(merged[0]["linked_by"], "anonymous_id=phone-anon-9");
    let anonymous_profile = trace[0]["profile"].clone();
    assert_eq!(merged[0]["merged_from"], anonymous_profile);
    let send = trace
        .iter()
        .find(|r| r["kind"] == "send" && r["user_id"] == "shopper-9")
        .expect("a send");
    assert_eq!(send["profile"], merged[0]["profile"]);
    compare(
        "abandoned-cart-identity",
        trace,
        r#"
        2026-10-01T12:00:00Z entered wait_1h phone-anon-9
        2026-10-01T12:00:00Z wait wait_1h phone-anon-9 until=2026-10-01T13:00:00Z
        2026-10-01T12:20:00Z merged - shopper-9
        2026-10-01T13:00:00Z branch vip shopper-9 next=reminder_email
        2026-10-01T13:00:00Z send reminder_email shopper-9 channel=email template=cart_reminder
        2026-10-01T13:00:00Z wait wait_click shopper-9 until=2026-10-02T13:00:00Z
        2026-10-01T18:05:00Z entered wait_1h mum
        2026-10-01T18:05:00Z wait wait_1h mum until=2026-10-01T19:05:00Z
        2026-10-01T18:35:00Z entered wait_1h kid
        2026-10-01T18:35:00Z wait wait_1h kid until=2026-10-01T19:35:00Z
        2026-10-01T19:00:00Z rejected - - reason=no usable identifier: every id is blocked or belongs to a forgotten person line=9
        2026-10-01T19:05:00Z branch vip mum next=reminder_email
        2026-10-01T19:05:00Z send reminder_email mum channel=email template=cart_reminder
        2026-10-01T19:05:00Z wait wait_click mum until=2026-10-02T19:05:00Z
        2026-10-01T19:35:00Z branch vip kid next=reminder_email
        2026-10-01T19:35:00Z send reminder_email kid channel=email template=cart_reminder
        2026-10-01T19:35:00Z wait wait_click kid until=2026-10-02T19:35:00Z
        2026-10-02T13:00:00Z suppressed push_nudge shopper-9 channel=push template=cart_push reason=unreachable
        2026-10-02T13:00:00Z exited done shopper-9 reason=completed
        2026-10-02T19:05:00Z suppressed push_nudge mum channel=push template=cart_push reason=unreachable
        2026-10-02T19:05:00Z exited done mum reason=completed
        2026-10-02T19:35:00Z suppressed push_nudge kid channel=push template=cart_push reason=unreachable
        2026-10-02T19:35:00Z exited done kid reason=completed
"#,
    );
}

/// A named segment: the third order (a counter only a `track` changes)
/// makes shopper-1 a member and enters them once (a fourth order does not
/// enter again); shopper-2 crosses the threshold by a merge with the
/// guest profile that ordered, at the merge's time; shopper-3 (one order)
/// never joins.
#[test]
fn vip_on_a_named_segment() {
    compare(
        "vip",
        simulate("vip"),
        r#"
        2026-10-08T10:00:00Z segment_entered - shopper-1 segment=big_spenders
        2026-10-08T10:00:00Z entered thanks shopper-1
        2026-10-08T10:00:00Z send thanks shopper-1 channel=email template=vip_thanks
        2026-10-08T10:00:00Z wait week shopper-1 until=2026-10-15T10:00:00Z
        2026-10-08T18:00:00Z merged - shopper-2
        2026-10-08T18:00:00Z segment_entered - shopper-2 segment=big_spenders
        2026-10-08T18:00:00Z entered thanks shopper-2
        2026-10-08T18:00:00Z send thanks shopper-2 channel=email template=vip_thanks
        2026-10-08T18:00:00Z wait week shopper-2 until=2026-10-15T18:00:00Z
        2026-10-15T10:00:00Z send invite shopper-1 channel=email template=vip_invite
        2026-10-15T10:00:00Z exited invite shopper-1 reason=completed
        2026-10-15T18:00:00Z send invite shopper-2 channel=email template=vip_invite
        2026-10-15T18:00:00Z exited invite shopper-2 reason=completed
"#,
    );
}

/// Inactivity: user-a goes quiet and enters ten days after their last
/// App Opened; user-d (quiet since an order) enters, comes back, and
/// enters again after the next quiet period; user-b stays active and
/// user-c never opened the app: neither enters.
#[test]
fn inactive_win_back() {
    compare(
        "inactive-win-back",
        simulate_until(
            "inactive-win-back",
            "inactive-win-back",
            Some("2026-10-25T00:00:00Z"),
        ),
        r#"
        2026-10-11T10:00:00Z entered miss_you user-a
        2026-10-11T10:00:00Z send miss_you user-a channel=email template=miss_you
        2026-10-11T10:00:00Z wait wait_open user-a until=2026-10-14T10:00:00Z
        2026-10-11T12:00:00Z entered miss_you user-d
        2026-10-11T12:00:00Z send miss_you user-d channel=email template=miss_you
        2026-10-11T12:00:00Z wait wait_open user-d until=2026-10-14T12:00:00Z
        2026-10-12T08:00:00Z goal wait_open user-d
        2026-10-12T08:00:00Z exited wait_open user-d reason=goal
        2026-10-14T10:00:00Z send nudge user-a channel=email template=miss_you_nudge
        2026-10-14T10:00:00Z exited done user-a reason=completed
        2026-10-22T08:00:00Z entered miss_you user-d
        2026-10-22T08:00:00Z send miss_you user-d channel=email template=miss_you
        2026-10-22T08:00:00Z wait wait_open user-d until=2026-10-25T08:00:00Z
"#,
    );
}

/// A date trait: 09:00 local three days before `trial_end`, after the
/// clocks went back in Berlin (25 October) and in New York (1 November);
/// a moved trial end moves the reminder; a trait that is not a date is
/// skipped and traced; a past date and an account that paid meanwhile
/// (the audience) get nothing.
#[test]
fn trial_ending_on_a_date_trait() {
    check(
        "trial-ending",
        r#"
        2026-10-20T10:00:00Z skipped - acct-bad reason=invalid_date value={"trait":"trial_end","found":"next friday"}
        2026-10-29T08:00:00Z entered reminder acct-berlin
        2026-10-29T08:00:00Z send reminder acct-berlin channel=email template=trial_ending
        2026-10-29T08:00:00Z exited reminder acct-berlin reason=completed
        2026-10-30T15:00:00Z goal reminder acct-berlin value=49
        2026-11-02T14:00:00Z entered reminder acct-ny
        2026-11-02T14:00:00Z send reminder acct-ny channel=email template=trial_ending
        2026-11-02T14:00:00Z exited reminder acct-ny reason=completed
        2026-11-07T09:00:00Z entered reminder acct-moved
        2026-11-07T09:00:00Z send reminder acct-moved channel=email template=trial_ending
        2026-11-07T09:00:00Z exited reminder acct-moved reason=completed
"#,
    );
}

/// A schedule: each digest reader enters every Monday at 09:00 in their
/// own zone (Berlin and New York across their DST changes, UTC without a
/// zone); leaving the segment stops it; a non-reader gets nothing.
#[test]
fn weekly_digest_on_a_schedule() {
    compare(
        "weekly-digest",
        simulate_until(
            "weekly-digest",
            "weekly-digest",
            Some("2026-11-03T00:00:00Z"),
        ),
        r#"
        2026-10-20T10:00:00Z segment_entered - reader-berlin segment=digest_readers
        2026-10-20T12:00:00Z segment_entered - reader-quit segment=digest_readers
        2026-10-21T15:00:00Z segment_entered - reader-ny segment=digest_readers
        2026-10-26T08:00:00Z entered digest reader-berlin
        2026-10-26T08:00:00Z send digest reader-berlin channel=email template=weekly_digest
        2026-10-26T08:00:00Z exited digest reader-berlin reason=completed
        2026-10-26T09:00:00Z entered digest reader-quit
        2026-10-26T09:00:00Z send digest reader-quit channel=email template=weekly_digest
        2026-10-26T09:00:00Z exited digest reader-quit reason=completed
        2026-10-26T13:00:00Z entered digest reader-ny
        2026-10-26T13:00:00Z send digest reader-ny channel=email template=weekly_digest
        2026-10-26T13:00:00Z exited digest reader-ny reason=completed
        2026-10-28T12:00:00Z segment_exited - reader-quit segment=digest_readers
        2026-11-02T08:00:00Z entered digest reader-berlin
        2026-11-02T08:00:00Z send digest reader-berlin channel=email template=weekly_digest
        2026-11-02T08:00:00Z exited digest reader-berlin reason=completed
        2026-11-02T14:00:00Z entered digest reader-ny
        2026-11-02T14:00:00Z send digest reader-ny channel=email template=weekly_digest
        2026-11-02T14:00:00Z exited digest reader-ny reason=completed
"#,
    );
}

/// Workspace policies (examples/policies/waymark.toml): a second promotion
/// within 4 h is capped, one after an order is in its suppression window,
/// one to a person who left the topic is not sent, one at 22:30 in New
/// York is deferred to 08:00 local, and a transactional receipt goes out
/// at once, at night too.
#[test]
fn policies_cap_defer_and_exempt() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/policies");
    let output = Command::new(env!("CARGO_BIN_EXE_waymark-admin"))
        .args(["simulate", "--config"])
        .arg(format!("{root}/waymark.toml"))
        .arg("--journey")
        .arg(format!("{root}/price-drop.yaml"))
        .arg("--journey")
        .arg(format!("{root}/receipt.yaml"))
        .arg("--events")
        .arg(format!("{root}/events.jsonl"))
        .output()
        .expect("waymark-admin runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let trace = String::from_utf8(output.stdout)
        .expect("utf-8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("every line is JSON"))
        .collect();
    compare(
        "policies",
        trace,
        r#"
        2026-11-02T09:00:00Z entered alert ana
        2026-11-02T09:00:00Z send alert ana channel=email template=price_drop
        2026-11-02T09:00:00Z exited alert ana reason=completed
        2026-11-02T10:00:00Z entered alert ana
        2026-11-02T10:00:00Z suppressed alert ana channel=email template=price_drop reason=frequency_cap
        2026-11-02T10:00:00Z exited alert ana reason=completed
        2026-11-02T12:00:00Z entered receipt cem
        2026-11-02T12:00:00Z send receipt cem channel=email template=receipt
        2026-11-02T12:00:00Z exited receipt cem reason=completed
        2026-11-02T13:00:00Z entered alert cem
        2026-11-02T13:00:00Z suppressed alert cem channel=email template=price_drop reason=suppression_window
        2026-11-02T13:00:00Z exited alert cem reason=completed
        2026-11-02T14:00:00Z entered alert ana
        2026-11-02T14:00:00Z send alert ana channel=email template=price_drop
        2026-11-02T14:00:00Z exited alert ana reason=completed
        2026-11-02T15:00:00Z entered alert dee
        2026-11-02T15:00:00Z suppressed alert dee channel=email template=price_drop reason=not_subscribed
        2026-11-02T15:00:00Z exited alert dee reason=completed
        2026-11-02T23:30:00Z entered receipt dee
        2026-11-02T23:30:00Z send receipt dee channel=email template=receipt
        2026-11-02T23:30:00Z exited receipt dee reason=completed
        2026-11-03T03:30:00Z entered alert ben
        2026-11-03T03:30:00Z deferred alert ben channel=email template=price_drop until=2026-11-03T13:00:00Z
        2026-11-03T13:00:00Z send alert ben channel=email template=price_drop
        2026-11-03T13:00:00Z exited alert ben reason=completed
"#,
    );
}
