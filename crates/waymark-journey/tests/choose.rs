//! Nodes that choose per person: `channel: best` / `{ best_of }` sends and
//! `optimize` nodes, as written and as refused.

use std::path::Path;

use waymark_core::Channel;
use waymark_journey::{Error, NodeKind, OptimizeGoal, parse_journey};

fn problems(yaml: &str) -> Vec<String> {
    match parse_journey(Path::new("j.yaml"), yaml) {
        Ok(_) => Vec::new(),
        Err(Error::Invalid { problems, .. }) => problems.iter().map(ToString::to_string).collect(),
        Err(e) => panic!("unexpected error {e}"),
    }
}

#[test]
fn best_and_best_of_list_the_channels_chosen_among() {
    let journey = parse_journey(
        Path::new("j.yaml"),
        r#"
id: j
entry: { event: Signed Up }
nodes:
  - { id: a, type: send, channel: best, template: t, next: b }
  - { id: b, type: send, channel: { best_of: [push, email] }, template: t, next: c }
  - { id: c, type: send, channel: [sms, email], template: t }
"#,
    )
    .unwrap();
    let sends: Vec<(Vec<Channel>, bool)> = journey
        .nodes
        .iter()
        .map(|n| match &n.kind {
            NodeKind::Send { channels, best, .. } => (channels.clone(), *best),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        sends,
        vec![
            (vec![Channel::Email, Channel::Push, Channel::Sms], true),
            (vec![Channel::Push, Channel::Email], true),
            (vec![Channel::Sms, Channel::Email], false),
        ]
    );
}

#[test]
fn a_bad_best_of_is_refused_with_every_reason() {
    let found = problems(
        r#"
id: j
entry: { event: Signed Up }
nodes:
  - { id: a, type: send, channel: { best_of: [email] }, template: t, next: b }
  - { id: b, type: send, channel: { best_of: [email, webhook, fax, email], pick: 1 }, template: t }
"#,
    );
    for fragment in [
        "node `a`: field `channel.best_of`: required: a list of at least two channels",
        "node `b`: field `channel.best_of`: webhook has no engagement",
        "node `b`: field `channel.best_of`: unknown channel",
        "node `b`: field `channel.best_of`: email is listed twice",
        "node `b`: field `channel.pick`",
    ] {
        assert!(
            found.iter().any(|p| p.contains(fragment)),
            "missing {fragment:?} in {found:#?}"
        );
    }
    assert_eq!(found.len(), 5, "{found:#?}");
}

#[test]
fn optimize_reads_variants_goal_and_explore() {
    let journey = parse_journey(
        Path::new("j.yaml"),
        r#"
id: j
entry: { event: Signed Up }
goal: { event: Order Completed, within: 7d }
nodes:
  - id: pick
    type: optimize
    goal: journey
    explore: 20%
    variants: [ { name: short, next: a }, { name: long, next: b } ]
  - { id: a, type: send, channel: email, template: short }
  - { id: b, type: optimize, goal: Clicked, within: 2d, variants: [ { next: c }, { next: d } ] }
  - { id: c, type: exit }
  - { id: d, type: exit }
"#,
    )
    .unwrap();
    let NodeKind::Optimize {
        variants,
        goal,
        explore_bp,
    } = &journey.nodes[0].kind
    else {
        panic!("{:?}", journey.nodes[0]);
    };
    let names: Vec<&str> = variants.iter().map(|v| &*v.name).collect();
    assert_eq!(names, ["short", "long"]);
    assert_eq!((goal, *explore_bp), (&OptimizeGoal::Journey, 2_000));
    let NodeKind::Optimize {
        variants,
        goal,
        explore_bp,
    } = &journey.nodes[2].kind
    else {
        panic!("{:?}", journey.nodes[2]);
    };
    assert_eq!(variants[1].name.as_ref(), "d", "named after `next`");
    assert_eq!(
        goal,
        &OptimizeGoal::Event {
            name: "Clicked".into(),
            within: "2d".parse().unwrap()
        }
    );
    assert_eq!(*explore_bp, 1_000, "10% unless said");
}

#[test]
fn a_bad_optimize_is_refused_with_every_reason() {
    let found = problems(
        r#"
id: j
entry: { event: Signed Up }
nodes:
  - id: pick
    type: optimize
    goal: journey
    explore: 120%
    variants: [ { name: x, next: a }, { name: x, next: b, weight: 3 } ]
  - { id: a, type: optimize, variants: [ { next: b } ] }
  - { id: b, type: exit }
"#,
    );
    for fragment in [
        "node `pick`: field `explore`: \"120%\" is not a percentage",
        "node `pick`: field `variants[1].name`: variant \"x\" is named twice",
        "node `pick`: field `variants[1].weight`",
        "node `a`: field `variants`: an optimize node needs at least two variants",
        "node `a`: field `goal`: required",
        "node `pick`: field `goal`: `goal: journey` needs the journey's `goal`",
    ] {
        assert!(
            found.iter().any(|p| p.contains(fragment)),
            "missing {fragment:?} in {found:#?}"
        );
    }
    assert_eq!(found.len(), 6, "{found:#?}");
}
