//! Journey validation: every problem reported at once, each naming node and field.

use std::path::Path;

use waymark_journey::{Error, parse_journey, to_dot, to_mermaid};

const HEAD: &str = "id: j\nentry: { event: Cart Updated }\n";

/// Validates `yaml` and checks that each expected fragment appears among
/// the problems (and that there are exactly that many), or that it is valid.
fn check(yaml: &str, expect: &[&str]) {
    let result = parse_journey(Path::new("j.yaml"), yaml);
    match (result, expect.is_empty()) {
        (Ok(_), true) => {}
        (Ok(_), false) => panic!("expected problems {expect:?}, journey was valid:\n{yaml}"),
        (Err(Error::Invalid { problems, .. }), false) => {
            let rendered: Vec<String> = problems.iter().map(ToString::to_string).collect();
            for fragment in expect {
                assert!(
                    rendered.iter().any(|p| p.contains(fragment)),
                    "missing {fragment:?} in {rendered:#?}"
                );
            }
            assert_eq!(rendered.len(), expect.len(), "{rendered:#?}");
        }
        (Err(e), _) => panic!("unexpected error {e}\n{yaml}"),
    }
}

fn nodes(body: &str) -> String {
    format!("{HEAD}nodes:\n{body}")
}

#[test]
fn the_design_example_is_valid() {
    check(
        r#"
id: abandoned-cart
name: Abandoned cart recovery
entry:
  event: Cart Updated
  where: 'event.properties.total > 0'
  audience: 'profile.traits.country != "US"'
  re_entry: { policy: after_exit, cooldown: 7d }
exit_on: [Order Completed]
goal: { event: Order Completed, within: 7d, value: 'event.properties.revenue' }
holdout: 10%
nodes:
  - { id: wait1, type: wait, duration: 1h, next: vip }
  - id: vip
    type: branch
    branches: [ { when: 'profile.traits.vip == true', next: vip_email } ]
    default: email1
  - { id: email1, type: send, channel: [email, sms], template: cart_reminder, next: wait_click }
  - { id: wait_click, type: wait_for_event, event: Email Link Clicked, timeout: 2d,
      on_event: done, on_timeout: sms1 }
  - { id: sms1, type: send, channel: sms, template: cart_sms, next: done }
  - { id: vip_email, type: send, channel: email, template: vip_cart, next: done }
  - { id: done, type: exit }
"#,
        &[],
    );
}

#[test]
fn duplicate_ids_and_unknown_targets() {
    check(
        &nodes("  - { id: a, type: wait, duration: 1h, next: b }\n  - { id: a, type: exit }\n"),
        &[
            "node `a`: field `id`: duplicate node id",
            "node `a`: field `next`: unknown node `b`",
        ],
    );
}

#[test]
fn unreachable_nodes() {
    check(
        &nodes("  - { id: a, type: exit }\n  - { id: b, type: exit }\n"),
        &["node `b`: unreachable"],
    );
}

#[test]
fn branch_without_default() {
    check(
        &nodes(
            "  - { id: a, type: branch, branches: [ { when: 'true', next: b } ] }\n  - { id: b, type: exit }\n",
        ),
        &["node `a`: field `default`: required"],
    );
}

#[test]
fn cycles_without_a_wait_spin() {
    check(
        &nodes(
            "  - { id: a, type: branch, branches: [ { when: 'profile.traits.x', next: b } ], default: c }\n  \
             - { id: b, type: update_profile, set: { x: false }, next: a }\n  - { id: c, type: exit }\n",
        ),
        &["cycle without a wait: `a` -> `b`"],
    );
    check(
        &nodes("  - { id: a, type: send, channel: email, template: t, next: a }\n"),
        &["cycle without a wait: `a`"],
    );
    // A loop through a wait is fine.
    check(
        &nodes(
            "  - { id: a, type: send, channel: email, template: t, next: w }\n  - { id: w, type: wait, duration: 1d, next: a }\n",
        ),
        &[],
    );
}

#[test]
fn invalid_durations_and_times() {
    check(
        &nodes("  - { id: a, type: wait, duration: 1x }\n"),
        &["node `a`: field `duration`: invalid duration \"1x\""],
    );
    check(
        &nodes("  - { id: a, type: wait, duration: 90 }\n"),
        &["node `a`: field `duration`: invalid duration 90"],
    );
    check(
        &nodes("  - { id: a, type: wait, until: \"25:00\" }\n"),
        &["node `a`: field `until`"],
    );
    check(
        &nodes("  - { id: a, type: wait, until: \"09:00:75\" }\n"),
        &["node `a`: field `until`: \"09:00:75\" is not a local time of day HH:MM or HH:MM:SS"],
    );
    check(
        &nodes("  - { id: a, type: wait, until: \"09:30:15\" }\n"),
        &[],
    );
    // The best hour: within 1h to 7d, a local default time; neither
    // option on another wait.
    check(
        &nodes("  - { id: a, type: wait, until: best_time, within: 48h, default: \"18:30\" }\n"),
        &[],
    );
    check(&nodes("  - { id: a, type: wait, until: best_time }\n"), &[]);
    check(
        &nodes("  - { id: a, type: wait, until: best_time, within: 30m }\n"),
        &["node `a`: field `within`: 30m is not between 1h and 7d"],
    );
    check(
        &nodes("  - { id: a, type: wait, until: best_time, default: \"7pm\" }\n"),
        &["node `a`: field `default`: \"7pm\" is not a local time of day"],
    );
    check(
        &nodes("  - { id: a, type: wait, duration: 1h, within: 24h }\n"),
        &["node `a`: field `within`: `within` goes with `until: best_time` only"],
    );
    check(
        &nodes("  - { id: a, type: wait }\n"),
        &["exactly one of `duration`"],
    );
    check(
        &format!(
            "{HEAD}goal: {{ event: Buy, within: soon }}\nnodes:\n  - {{ id: a, type: exit }}\n"
        ),
        &["field `goal.within`: invalid duration \"soon\""],
    );
}

#[test]
fn cel_that_does_not_compile() {
    check(
        &nodes(
            "  - { id: a, type: branch, branches: [ { when: 'profile.traits.vip ==', next: b } ], default: b }\n  - { id: b, type: exit }\n",
        ),
        &["node `a`: field `branches[0].when`: CEL does not compile"],
    );
    check(
        "id: j\nentry: { event: X, where: 'evnt.x > 1' }\nnodes:\n  - { id: a, type: exit }\n",
        &["field `entry.where`: CEL does not compile: unknown variable `evnt`"],
    );
}

#[test]
fn unknown_fields_anywhere() {
    check(
        &nodes("  - { id: a, type: wait, duration: 1h, nxt: b }\n  - { id: b, type: exit }\n"),
        &[
            "node `a`: field `nxt`: unknown field",
            "node `b`: unreachable",
        ],
    );
    check(
        &format!("{HEAD}colour: blue\nnodes:\n  - {{ id: a, type: exit, next: a }}\n"),
        &[
            "field `colour`: unknown field",
            "node `a`: field `next`: unknown field (this node takes no fields besides id, type and description)",
        ],
    );
}

#[test]
fn every_problem_is_listed_at_once() {
    check(
        r#"
id: broken
entry: { event: X, re_entry: sometimes }
holdout: 150%
nodes:
  - { id: s, type: send, channel: fax, template: t, next: w }
  - { id: w, type: wait_for_event, event: Y, timeout: 2d, on_event: gone }
  - { id: sp, type: split, variants: [ { weight: 0, next: s } ] }
"#,
        &[
            "field `entry.re_entry.policy`: unknown policy",
            "field `holdout`",
            "node `s`: field `channel`: unknown channel \"fax\"",
            "node `w`: field `on_timeout`: `timeout` and `on_timeout` go together",
            "node `w`: field `on_event`: unknown node `gone`",
            "node `sp`: field `variants[0].weight`",
            "node `sp`: unreachable",
        ],
    );
}

#[test]
fn entry_needs_exactly_one_trigger() {
    check(
        "id: j\nentry: { where: 'true' }\nnodes:\n  - { id: a, type: exit }\n",
        &["field `entry`: needs one of"],
    );
    check(
        "id: j\nentry: { event: X, api: true }\nnodes:\n  - { id: a, type: exit }\n",
        &["field `entry`: give only one"],
    );
    check(
        "id: j\nentry: { segment: 'profile.traits.plan == \"pro\"' }\nnodes:\n  - { id: a, type: exit }\n",
        &[],
    );
}

#[test]
fn syntax_errors_carry_the_line() {
    let err = parse_journey(Path::new("j.yaml"), "id: j\nnodes: [\n  - a: [\n").unwrap_err();
    assert!(matches!(err, Error::Syntax { line: 3.., .. }), "{err}");
    let err = parse_journey(Path::new("j.json"), "{\"id\": \"j\",\n \"nodes\": }").unwrap_err();
    assert!(err.to_string().starts_with("j.json:2:"), "{err}");
}

#[test]
fn exports_draw_every_edge() {
    let journey = parse_journey(
        Path::new("j.yaml"),
        &nodes(
            "  - { id: pick, type: split, variants: [ { weight: 1, next: a }, { weight: 3, next: b } ] }\n  \
             - { id: a, type: send, channel: email, template: t, next: w }\n  \
             - { id: w, type: wait_for_event, event: Email Opened, timeout: 1d, on_event: b, on_timeout: b }\n  \
             - { id: b, type: exit }\n",
        ),
    )
    .unwrap();
    let dot = to_dot(&journey);
    assert!(dot.starts_with("digraph \"j\" {"), "{dot}");
    assert!(dot.contains("\"__entry\" -> \"pick\";"), "{dot}");
    assert!(
        dot.contains("\"pick\" -> \"b\" [label=\"b 75%\"];"),
        "{dot}"
    );
    assert!(
        dot.contains("\"w\" -> \"b\" [label=\"timeout 1d\"];"),
        "{dot}"
    );
    let mermaid = to_mermaid(&journey);
    assert!(mermaid.starts_with("flowchart TD\n"), "{mermaid}");
    assert!(mermaid.contains("n0 -->|\"a 25%\"| n1"), "{mermaid}");
    assert!(mermaid.contains("n2 -->|\"Email Opened\"| n3"), "{mermaid}");
}

#[test]
fn timed_and_segment_triggers_list_every_problem() {
    let body = "nodes:\n  - { id: a, type: wait_for_segment, segment: 'not an id', timeout: soon, on_timeout: a }\n";
    check(
        &format!("id: j\nentry: {{ inactive: {{ events: [App Opened], for: 10 days }} }}\n{body}"),
        &[
            "entry.inactive.for",
            "field `segment`: required: a segment id",
            "field `timeout`",
        ],
    );
    check(
        "id: j\nentry: { date: { trait: trial_end, offset: three days, at: '9am' } }\nnodes:\n  - { id: a, type: exit }\n",
        &["entry.date.offset", "entry.date.at"],
    );
    check(
        "id: j\nentry: { schedule: { cron: 'every monday', timezone: Mars/Olympus } }\nnodes:\n  - { id: a, type: exit }\n",
        &[
            "is not a cron expression",
            "neither `profile` nor an IANA time zone",
        ],
    );
    check(
        "id: j\nentry: { segment: 'event.properties.x > 1' }\nexit_on: [Order Completed, { segment_exit: 'a b' }, 3]\nnodes:\n  - { id: a, type: exit }\n",
        &[
            "over the profile only",
            "exit_on[1].segment_exit",
            "exit_on[2]",
        ],
    );
    check(
        "id: j\nentry: { schedule: { cron: '0 9 * * MON', timezone: Europe/Berlin, segment: vip }, re_entry: after_exit }\nexit_on: [{ segment_exit: vip }]\nnodes:\n  - { id: a, type: wait_for_segment, segment: vip, timeout: 3d, on_enter: b, on_timeout: b }\n  - { id: b, type: exit }\n",
        &[],
    );
}

#[test]
fn journeys_and_segments_are_checked_together() {
    let dir = std::env::temp_dir().join(format!("waymark-segments-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("segments")).unwrap();
    std::fs::create_dir_all(dir.join("templates")).unwrap();
    std::fs::write(
        dir.join("segments/vip.yaml"),
        "id: vips\nwhere: 'profile.revenue >'\nsize: 3\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("segments/buyers.yaml"),
        "id: buyers\nwhere: 'profile.revenue > 0.0'\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("j.yaml"),
        "id: j\nentry: { segment: big_spenders }\nexit_on: [{ segment_exit: buyers }]\nnodes:\n  - { id: a, type: wait_for_segment, segment: lurkers, on_enter: b }\n  - { id: b, type: exit }\n",
    )
    .unwrap();
    let errors = waymark_journey::load_workspace(&[dir.join("j.yaml")], None, None)
        .unwrap_err()
        .to_string();
    for fragment in [
        "segments/vip.yaml: invalid segment, 3 problems",
        "`vips` differs from the file name `vip`",
        "field `size`: unknown field",
        "field `where`: CEL does not compile",
        "j.yaml: invalid journey, 2 problems",
        "field `entry.segment`: unknown segment `big_spenders` (known: buyers)",
        "node `a`: field `segment`: unknown segment `lurkers`",
    ] {
        assert!(
            errors.contains(fragment),
            "missing {fragment:?} in:\n{errors}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_entry_limit_needs_a_count_and_a_window() {
    check(
        "id: j\nentry: { event: X, limit: { max: 0, per: soon, burst: 3 } }\nnodes:\n  - { id: a, type: exit }\n",
        &["entry.limit.max", "entry.limit.per", "entry.limit.burst"],
    );
    check(
        "id: j\nentry: { event: X, limit: { max: 1000, per: 1h } }\nnodes:\n  - { id: a, type: exit }\n",
        &[],
    );
}
