//! The same API as an svcc project and as a TypeSpec project, for timing
//! `svcc build --target openapi` against `tsp compile . --emit
//! @typespec/openapi3` (`benches/vs-typespec.sh`).
//!
//! Resource `i` is a model `Item{i}` (id: uuid, read-only; name: string of
//! 1 to 120 characters; price: decimal >= 0; quantity: 64-bit integer in
//! 0..=1000; status: enum draft/active/archived; tags: at most 10 strings;
//! note: optional string), an error `Item{i}Conflict` (409, problem details
//! with the current status), and `operations_per_resource` operations: create
//! (`POST /items{i}`), read (`GET /items{i}/{id}`), list (`GET /items{i}`),
//! then `POST /items{i}/{id}/action{k}` taking and returning the model. Every
//! operation can answer the 409.
//!
//! svcc adds RFC 9457 problems on its own (400 where there is input to
//! check, 404 where the path has a parameter, 500 everywhere); the TypeSpec
//! side declares the same responses, so both documents describe the same
//! API. No auth on either side; the same summaries (svcc's default,
//! `METHOD /path`) and the same local server on both. TypeSpec writes one
//! document for its service namespace; svcc one per service, and the
//! [`Shape`] says whether that is one service per resource or one service
//! of every resource (one document, like TypeSpec's).

/// One generated file: path relative to the project root, and contents.
pub use crate::corpus::File;

/// What one operation of a resource is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Op {
    Create,
    Read,
    List,
    Action(usize),
}

/// The operations of a resource, in order: create, read, list, action1, ...
fn operations(count: usize) -> impl Iterator<Item = Op> {
    [Op::Create, Op::Read, Op::List]
        .into_iter()
        .chain((1..).map(Op::Action))
        .take(count)
}

/// svcc's project file: OpenAPI only.
const SVCC_TOML: &str =
    "[project]\nname = \"vs-typespec\"\nversion = \"0.1.0\"\n\n[build]\ntargets = [\"openapi\"]\n";

/// TypeSpec's project file: the OpenAPI 3.1 emitter.
const TSPCONFIG: &str = "emit:\n  - \"@typespec/openapi3\"\noptions:\n  \"@typespec/openapi3\":\n    openapi-versions:\n      - \"3.1.0\"\n";

/// The declared error of resource `i`, under `errors:`.
fn svcc_error(i: usize) -> String {
    format!(
        "  Item{i}Conflict:\n    status: 409\n    description: The item changed meanwhile\n    fields: {{ currentStatus: Item{i}Status }}\n"
    )
}

/// The types of resource `i`, under `types:`.
fn svcc_types(i: usize) -> String {
    format!(
        "  Item{i}Status:\n    enum: [draft, active, archived]\n  Item{i}:\n    description: An item of resource {i}\n    fields:\n      id: {{ type: uuid, readOnly: true }}\n      name: {{ type: string, minLength: 1, maxLength: 120 }}\n      price: {{ type: decimal, min: 0 }}\n      quantity: {{ type: integer, min: 0, max: 1000 }}\n      status: Item{i}Status\n      tags: {{ type: list<string>, maxItems: 10 }}\n      note: string?\n"
    )
}

/// The routes of resource `i`, under `routes:`.
fn svcc_routes(i: usize, ops: usize) -> String {
    let mut out = String::new();
    for op in operations(ops) {
        out.push_str(&match op {
            Op::Create => format!(
                "  POST /items{i}:\n    operation: createItem{i}\n    input: Item{i}\n    output: Item{i}\n    status: 201\n    errors: [Item{i}Conflict]\n"
            ),
            Op::Read => format!(
                "  GET /items{i}/{{id}}:\n    operation: readItem{i}\n    params: {{ id: uuid }}\n    output: Item{i}\n    errors: [Item{i}Conflict]\n"
            ),
            Op::List => format!(
                "  GET /items{i}:\n    operation: listItem{i}\n    output: list<Item{i}>\n    errors: [Item{i}Conflict]\n"
            ),
            Op::Action(k) => format!(
                "  POST /items{i}/{{id}}/action{k}:\n    operation: action{k}Item{i}\n    params: {{ id: uuid }}\n    input: Item{i}\n    output: Item{i}\n    status: 200\n    errors: [Item{i}Conflict]\n"
            ),
        });
    }
    out
}

/// An svcc service manifest of `resources` (indexes), each with `ops`
/// operations.
fn svcc_manifest(
    name: &str,
    description: &str,
    resources: std::ops::Range<usize>,
    ops: usize,
) -> String {
    let mut errors = String::new();
    let mut types = String::new();
    let mut routes = String::new();
    for i in resources {
        errors.push_str(&svcc_error(i));
        types.push_str(&svcc_types(i));
        routes.push_str(&svcc_routes(i, ops));
    }
    format!(
        "kind: Service\nname: {name}\nversion: 1.0.0\ndescription: {description}\nerrors:\n{errors}types:\n{types}routes:\n{routes}"
    )
}

/// Declarations every TypeSpec resource uses: the uuid scalar and the
/// problems svcc adds on its own.
const TSP_PRELUDE: &str = r#"import "@typespec/http";

using Http;

/** The API of `svcc-vs-typespec` */
@service(#{ title: "Benchmark API" })
@server("http://127.0.0.1:8080", "local (svcc-runtime)")
@useAuth(NoAuth)
namespace Bench;

@format("uuid")
scalar uuid extends string;

/** RFC 9457 problem details */
model Problem {
  @header contentType: "application/problem+json";

  /** Identifies the problem type */
  @format("uri-reference") type: string;

  /** Short summary of the problem type */
  title: string;

  /** The HTTP status code */
  status: int32;

  /** What happened this time */
  detail?: string;

  /** Identifies this occurrence */
  @format("uri-reference") instance?: string;
}

/** The request's parameters or body do not match the contract */
@error
model BadRequest extends Problem {
  @statusCode statusCode: 400;
}

/** No resource with this identifier */
@error
model NotFound extends Problem {
  @statusCode statusCode: 404;
}

/** The service failed */
@error
model InternalError extends Problem {
  @statusCode statusCode: 500;
}
"#;

/// The TypeSpec declarations of resource `i`: enum, model, error and one
/// routed interface.
fn tsp_resource(i: usize, ops: usize) -> String {
    let mut out = format!(
        "
enum Item{i}Status {{
  draft,
  active,
  archived,
}}

/** An item of resource {i} */
model Item{i} {{
  @visibility(Lifecycle.Read) id: uuid;
  @minLength(1) @maxLength(120) name: string;
  @minValue(0) price: decimal;
  @minValue(0) @maxValue(1000) quantity: int64;
  status: Item{i}Status;
  @maxItems(10) tags: string[];
  note?: string | null;
}}

/** The item changed meanwhile */
@error
model Item{i}Conflict extends Problem {{
  @statusCode statusCode: 409;
  currentStatus: Item{i}Status;
}}

@route(\"/items{i}\")
interface Items{i} {{
"
    );
    let errors = format!("Item{i}Conflict | InternalError");
    for op in operations(ops) {
        out.push_str(&match op {
            Op::Create => format!(
                "  @summary(\"POST /items{i}\")\n  @post createItem{i}(@body body: Item{i}): {{\n    @statusCode statusCode: 201;\n    @body body: Item{i};\n  }} | BadRequest | {errors};\n"
            ),
            Op::Read => format!(
                "  @summary(\"GET /items{i}/{{id}}\")\n  @get readItem{i}(@path id: uuid): Item{i} | BadRequest | NotFound | {errors};\n"
            ),
            Op::List => format!("  @summary(\"GET /items{i}\")\n  @get listItem{i}(): Item{i}[] | {errors};\n"),
            Op::Action(k) => format!(
                "  @summary(\"POST /items{i}/{{id}}/action{k}\")\n  @post @route(\"{{id}}/action{k}\") action{k}Item{i}(@path id: uuid, @body body: Item{i}): Item{i} | BadRequest | NotFound | {errors};\n"
            ),
        });
    }
    out.push_str("}\n");
    out
}

/// How the svcc side groups the API's resources into services.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Shape {
    /// One service per resource (`Items{i}Service`), one document each.
    ServicePerResource,
    /// Every resource in one service (`BenchService`), one document, as
    /// TypeSpec writes it: the shape of one large API.
    OneService,
}

/// The same API twice: (svcc project files, TypeSpec project files), each
/// with `resources` resources of `operations_per_resource` operations.
pub fn generate(
    resources: usize,
    operations_per_resource: usize,
    shape: Shape,
) -> (Vec<File>, Vec<File>) {
    let mut svcc = vec![("svcc.toml".to_string(), SVCC_TOML.to_string())];
    let mut main = TSP_PRELUDE.to_string();
    for i in 0..resources {
        if shape == Shape::ServicePerResource {
            svcc.push((
                format!("manifests/items{i:04}.yaml"),
                svcc_manifest(
                    &format!("Items{i}Service"),
                    &format!("Resource {i} of the benchmark API"),
                    i..i + 1,
                    operations_per_resource,
                ),
            ));
        }
        main.push_str(&tsp_resource(i, operations_per_resource));
    }
    if shape == Shape::OneService {
        svcc.push((
            "manifests/bench.yaml".to_string(),
            svcc_manifest(
                "BenchService",
                "The benchmark API",
                0..resources,
                operations_per_resource,
            ),
        ));
    }
    let typespec = vec![
        ("main.tsp".to_string(), main),
        ("tspconfig.yaml".to_string(), TSPCONFIG.to_string()),
    ];
    (svcc, typespec)
}

/// Writes generated files under `root` (the corpus generator's writer).
pub use crate::corpus::write;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn operations_start_with_create_read_list() {
        let ops: Vec<Op> = operations(5).collect();
        assert_eq!(
            ops,
            [Op::Create, Op::Read, Op::List, Op::Action(1), Op::Action(2)]
        );
        assert_eq!(operations(2).count(), 2);
    }

    #[test]
    fn both_sides_have_every_operation() {
        let (svcc, typespec) = generate(3, 7, Shape::ServicePerResource);
        let routes: usize = svcc
            .iter()
            .map(|(_, text)| text.matches("    operation: ").count())
            .sum();
        assert_eq!(routes, 21);
        let main = &typespec
            .iter()
            .find(|(path, _)| path == "main.tsp")
            .unwrap()
            .1;
        let ops = main
            .lines()
            .filter(|l| l.starts_with("  @post ") || l.starts_with("  @get "))
            .count();
        assert_eq!(ops, 21);
        assert_eq!(main.matches("\ninterface Items").count(), 3);
    }

    #[test]
    fn the_svcc_side_checks_clean() {
        for shape in [Shape::ServicePerResource, Shape::OneService] {
            let (files, _) = generate(4, 6, shape);
            let config = files
                .iter()
                .find(|(path, _)| path == "svcc.toml")
                .map(|(path, text)| {
                    svcc_core::SourceInput::new(path.clone(), text.clone().into_bytes())
                });
            let manifests: Vec<svcc_core::SourceInput> = files
                .iter()
                .filter(|(path, _)| path.starts_with("manifests/"))
                .map(|(path, text)| {
                    svcc_core::SourceInput::new(path.clone(), text.clone().into_bytes())
                })
                .collect();
            let analysis = svcc_core::check_project(config.as_ref(), &manifests);
            let human = svcc_core::diagnostic::render::human(
                &analysis.sources,
                &analysis.diagnostics,
                false,
            );
            assert!(analysis.diagnostics.is_empty(), "{shape:?}: {human}");
            assert_eq!(
                analysis.model.ast.services.len(),
                if shape == Shape::OneService { 1 } else { 4 }
            );
            let routes: usize = analysis
                .model
                .ast
                .services
                .iter()
                .map(|s| s.routes.len())
                .sum();
            assert_eq!(routes, 24);
        }
    }
}
