//! Generates one `#[test]` per folder under `cases/`.

use std::fmt::Write;

fn main() {
    println!("cargo:rerun-if-changed=cases");
    let mut names: Vec<String> = std::fs::read_dir("cases")
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.path().is_dir())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let mut code = String::new();
    for name in &names {
        let ident: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .collect();
        let _ = writeln!(
            code,
            "#[test]\nfn case_{ident}() {{\n    svcc_tests::run_case({name:?});\n}}\n"
        );
        println!("cargo:rerun-if-changed=cases/{name}");
    }
    let out = std::env::var("OUT_DIR").unwrap_or_else(|_| ".".to_string());
    let _ = std::fs::write(std::path::Path::new(&out).join("cases.rs"), code);
}
