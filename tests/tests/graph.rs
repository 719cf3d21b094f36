//! `svcc graph`: the examples' pictures are snapshotted in `snapshots/`,
//! contain every service, event subscription and call, and the DOT output
//! is accepted by Graphviz itself when it is installed (CI installs it).

// Test code: a panic is a test failure, which is what we want.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use svcc_core::graph::{Format, render};

fn model(example: &str) -> svcc_core::Analysis {
    let dir = svcc_tests::repo_root().join("examples").join(example);
    svcc::workspace::check(&dir).unwrap()
}

#[test]
fn pictures_of_the_examples_are_stable() {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(svcc_tests::repo_root().join("snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.bind(|| {
        for example in ["shop", "email-verification"] {
            let analysis = model(example);
            insta::assert_snapshot!(
                format!("{example}.graph.mermaid"),
                render(&analysis.model, Format::Mermaid)
            );
            insta::assert_snapshot!(
                format!("{example}.graph.dot"),
                render(&analysis.model, Format::Dot)
            );
        }
    });
}

#[test]
fn every_service_event_and_call_is_drawn() {
    let analysis = model("shop");
    let mermaid = render(&analysis.model, Format::Mermaid);
    for s in &analysis.model.ast.services {
        assert!(
            mermaid.contains(&format!("{}[\"{}", s.name.value, s.name.value)),
            "service {} missing",
            s.name.value
        );
        for sub in &s.subscribes {
            assert!(
                mermaid.contains(&format!(
                    "-- \"{}\" --> {}",
                    sub.event.value.0, s.name.value
                )),
                "subscription {} missing",
                sub.event.value.0
            );
        }
        for call in &s.calls {
            assert!(mermaid.contains(&format!(
                "{} -. \"{}\" .-> {}",
                s.name.value, call.value.operation, call.value.service
            )));
        }
    }
    for saga in &analysis.model.ast.sagas {
        assert!(mermaid.contains(&format!("saga {}", saga.name.value)));
    }
}

#[test]
fn graphviz_accepts_the_dot_output() {
    let Ok(status) = std::process::Command::new("dot").arg("-V").output() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must install graphviz (see .ci/run)"
        );
        eprintln!("graphviz not installed: skipping (CI installs it)");
        return;
    };
    assert!(status.status.success());
    for example in ["shop", "email-verification"] {
        let dot = render(&model(example).model, Format::Dot);
        let mut child = std::process::Command::new("dot")
            .arg("-Tsvg")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(dot.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "dot rejected the {example} graph: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("<svg"));
    }
}
