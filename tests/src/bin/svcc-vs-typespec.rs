//! `svcc-vs-typespec DIR RESOURCES OPS_PER_RESOURCE`: writes the same API as
//! an svcc project (`DIR/svcc`) and a TypeSpec project (`DIR/typespec`), see
//! `svcc_tests::typespec`.

use std::path::Path;
use std::process::ExitCode;

const USAGE: &str = "usage: svcc-vs-typespec DIR RESOURCES OPS_PER_RESOURCE";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir, resources, ops] = args.as_slice() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let (Ok(resources), Ok(ops)) = (resources.parse::<usize>(), ops.parse::<usize>()) else {
        eprintln!("{USAGE}\nRESOURCES and OPS_PER_RESOURCE are whole numbers");
        return ExitCode::from(2);
    };
    let (svcc, typespec) = svcc_tests::typespec::generate(resources, ops);
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
