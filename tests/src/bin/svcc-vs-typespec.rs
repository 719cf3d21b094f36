//! `svcc-vs-typespec DIR RESOURCES OPS_PER_RESOURCE [--one-service]`: writes
//! the same API as an svcc project (`DIR/svcc`) and a TypeSpec project
//! (`DIR/typespec`), see `svcc_tests::typespec`. With `--one-service`, the
//! svcc side is one service of every resource instead of one per resource.

use std::path::Path;
use std::process::ExitCode;
use svcc_tests::typespec::Shape;

const USAGE: &str = "usage: svcc-vs-typespec DIR RESOURCES OPS_PER_RESOURCE [--one-service]";

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let shape = match args.iter().position(|a| a == "--one-service") {
        Some(i) => {
            args.remove(i);
            Shape::OneService
        }
        None => Shape::ServicePerResource,
    };
    let [dir, resources, ops] = args.as_slice() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let (Ok(resources), Ok(ops)) = (resources.parse::<usize>(), ops.parse::<usize>()) else {
        eprintln!("{USAGE}\nRESOURCES and OPS_PER_RESOURCE are whole numbers");
        return ExitCode::from(2);
    };
    let (svcc, typespec) = svcc_tests::typespec::generate(resources, ops, shape);
    let dir = Path::new(dir);
    let written = svcc_tests::typespec::write(&dir.join("svcc"), &svcc)
        .and_then(|()| svcc_tests::typespec::write(&dir.join("typespec"), &typespec));
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
