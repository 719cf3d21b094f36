//! A corpus generator for benchmarks: a valid project of N services with M
//! routes each, deterministic from a seed, with types (constraints, enums,
//! readOnly fields), events between services, state machines, jobs,
//! synchronous calls, sagas, pricing and deployments in realistic
//! proportions (one saga, pricing and deployment per ten services).
//!
//! `malformed` plants K independent mistakes spread through the project
//! (misspelt types, bad route keys, bad cron, unknown events, ...), each of
//! which `svcc check` must report.
//!
//! The other shapes grow one dimension of one project, so that a benchmark
//! can tell linear cost from quadratic (issues 23 and 24): [`one_service`]
//! (one service of N operations and N/2 types, the shape of a large public
//! API), [`one_type`] (one type of N fields), [`extends_chain`] (N types,
//! each extending the one before) and [`long_scalar`] (one description of
//! N bytes).

/// A small deterministic generator (xorshift64*), so the corpus is the same
/// on every machine without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// One generated file: path relative to the project root, and contents.
pub type File = (String, String);

const VERBS: [&str; 8] = [
    "approve", "reject", "refresh", "export", "archive", "restore", "audit", "notify",
];

fn entity(i: usize) -> String {
    format!("Item{i}")
}

fn service(i: usize) -> String {
    format!("Catalog{i}Service")
}

fn types_doc(i: usize, rng: &mut Rng) -> String {
    let e = entity(i);
    let max = 100 + rng.below(900);
    format!(
        "kind: Types\nname: Catalog{i}Types\ntypes:\n  {e}Status:\n    enum: [draft, active, archived]\n  {e}:\n    description: An item of catalog {i}\n    fields:\n      id: {{ type: uuid, readOnly: true }}\n      customerId: uuid\n      name: {{ type: string, minLength: 1, maxLength: 120, example: Widget }}\n      price: {{ type: decimal, min: 0 }}\n      quantity: {{ type: integer, min: 0, max: {max} }}\n      status: {e}Status\n      tags: {{ type: list<string>, maxItems: 10 }}\n      note: string?\n      createdAt: {{ type: datetime, readOnly: true }}\n  {e}Page:\n    fields:\n      items: list<{e}>\n      next: string?\n"
    )
}

fn route(i: usize, k: usize, rng: &mut Rng) -> String {
    let e = entity(i);
    let lower = e.to_lowercase();
    let verb = VERBS[k % VERBS.len()];
    let limit = if rng.below(3) == 0 {
        format!("\n    rateLimit: {}/min per user", 10 + rng.below(90))
    } else {
        String::new()
    };
    format!(
        "  POST /{lower}s/{{id}}/{verb}{k}:\n    operation: {verb}{e}{k}\n    summary: {verb} an item ({k})\n    params: {{ id: uuid }}\n    input: {e}\n    output: {e}\n    status: 200\n    errors: [{e}Conflict]\n    permission: items:write{limit}\n"
    )
}

fn service_doc(i: usize, n: usize, routes: usize, rng: &mut Rng) -> String {
    let e = entity(i);
    let lower = e.to_lowercase();
    let next = (i + 1) % n;
    let prev = (i + n - 1) % n;
    let mut out = format!(
        "kind: Service\nname: {s}\nversion: 1.0.0\ndescription: Catalog {i}\nauth: jwt\nroles:\n  admin: [\"*\"]\n  customer: [items:read:own, items:write]\nerrors:\n  {e}Conflict:\n    status: 409\n    description: The item changed meanwhile\n    fields: {{ currentStatus: {e}Status }}\nroutes:\n  POST /{lower}s:\n    operation: create{e}\n    input: {e}\n    output: {e}\n    permission: items:write\n    idempotent: true\n    emits: [{e}.created]\n  GET /{lower}s/{{id}}:\n    operation: get{e}\n    params: {{ id: uuid }}\n    output: {e}\n    permission: items:read:own\n    cache: 30s\n  GET /{lower}s:\n    operation: list{e}s\n    query: {{ status: {e}Status?, limit: {{ type: integer, min: 1, max: 100, default: 20 }} }}\n    output: {e}Page\n",
        s = service(i)
    );
    for k in 0..routes.saturating_sub(3) {
        out.push_str(&route(i, k, rng));
    }
    out.push_str(&format!(
        "events:\n  publishes:\n    {e}.created: {e}\n  subscribes:\n    {p}.created: {{ handler: onItem{prev}Created, retry: {{ attempts: 3, backoff: exponential, delay: 1s }} }}\n",
        p = entity(prev)
    ));
    if i.is_multiple_of(10) {
        out.push_str(&format!("    {e}.reviewed: {{ handler: on{e}Reviewed }}\n"));
    }
    out.push_str(&format!(
        "state:\n  entity: {e}\n  field: status\n  initial: draft\n  transitions:\n    activate{i}: {{ from: draft, to: active, emits: {e}.activated }}\n    archive{i}: {{ from: [draft, active], to: archived, emits: {e}.archived }}\n"
    ));
    out.push_str(&format!(
        "jobs:\n  sweep{i}: {{ schedule: \"*/{} * * * *\", timeout: 5m }}\n",
        [5, 10, 15, 30][i % 4]
    ));
    // even services call the next one: no cycles, no deep chains
    if i.is_multiple_of(2) && n > 1 && !next.is_multiple_of(2) {
        out.push_str(&format!(
            "calls: [{}.get{}]\nresilience:\n  timeout: 2s\n  retry: {{ attempts: 2, backoff: exponential, delay: 100ms }}\nhealth:\n  checks: [database, {}]\n",
            service(next),
            entity(next),
            service(next)
        ));
    }
    out
}

fn consumers_doc(n: usize) -> String {
    // every transition event is consumed by an audit service
    let mut out = String::from(
        "kind: Service\nname: AuditService\nroutes:\n  GET /audit:\n    operation: listAudit\n    output: list<string>\nevents:\n  subscribes:\n",
    );
    for i in 0..n {
        let e = entity(i);
        out.push_str(&format!("    {e}.activated: {{ handler: on{e}Activated }}\n    {e}.archived: {{ handler: on{e}Archived }}\n"));
    }
    out
}

fn saga_doc(i: usize) -> String {
    let e = entity(i);
    let s = service(i);
    format!(
        "kind: Saga\nname: Review{e}\ntrigger: {e}.created\nsteps:\n  - name: activate\n    action: {s}.activate{i}\n    compensate: {s}.archive{i}\n    timeout: 30s\n  - parallel:\n      - name: approve\n        action: {s}.approve{e}0\n        input: steps.activate.output\n        compensate: none\n        when: input.quantity > 10 and input.note != null and input.note == \"bulk\"\n      - name: reject\n        action: {s}.reject{e}1\n        compensate: none\n  - name: close\n    action: {s}.archive{i}\npublishes:\n  {e}.reviewed: {e}\nonSuccess: {e}.reviewed\n"
    )
}

fn pricing_doc(i: usize) -> String {
    let e = entity(i);
    format!(
        "kind: Pricing\nname: Catalog{i}Plans\nservice: {s}\ncurrency: USD\nplans:\n  - name: Starter\n    price: 19\n    interval: month\n    limits: {{ requests: 1000/day }}\n    features: [create{e}, get{e}]\n  - name: Pro\n    price: 79\n    interval: month\n    limits: {{ requests: 100000/day }}\n    features: [create{e}, get{e}, list{e}s]\n  - name: Enterprise\n    price: custom\n    features: [\"*\"]\ntrial: 14d\n",
        s = service(i)
    )
}

fn deployment_doc(i: usize) -> String {
    format!(
        "kind: Deployment\nname: Catalog{i}Edge\nservice: {s}\ntarget: cloudflare\ncompatibilityDate: 2025-10-10\nvars: {{ REGION: eu }}\nsecrets: [JWT_SECRET]\nbindings:\n  kv: {{ CACHE: {{}} }}\n  r2: {{ FILES: {{ bucket: catalog{i}-files }} }}\nresources: {{ cpuMs: 50 }}\nobservability: {{ logs: true, sampling: 0.1 }}\nenvironments:\n  staging:\n    routes: [staging.example.com/catalog{i}/*]\n  production:\n    routes: [api.example.com/catalog{i}/*]\n    strategy:\n      type: canary\n      steps: [5, 25, 100]\n      interval: 10m\n      rollback: {{ errorRate: 1%, p95: 500ms }}\n",
        s = service(i)
    )
}

/// A valid project: `services` services with `routes` routes each.
pub fn generate(seed: u64, services: usize, routes: usize) -> Vec<File> {
    let mut rng = Rng(seed.max(1));
    let mut files = vec![(
        "svcc.toml".to_string(),
        "[project]\nname = \"corpus\"\nversion = \"0.1.0\"\n\n[build]\ntargets = [\"openapi\", \"asyncapi\", \"wrangler\"]\n".to_string(),
    )];
    for i in 0..services {
        files.push((
            format!("manifests/catalog{i:04}/types.yaml"),
            types_doc(i, &mut rng),
        ));
        files.push((
            format!("manifests/catalog{i:04}/service.yaml"),
            service_doc(i, services, routes, &mut rng),
        ));
        if i.is_multiple_of(10) {
            files.push((format!("manifests/catalog{i:04}/saga.yaml"), saga_doc(i)));
            files.push((
                format!("manifests/catalog{i:04}/pricing.yaml"),
                pricing_doc(i),
            ));
            files.push((
                format!("manifests/catalog{i:04}/deployment.yaml"),
                deployment_doc(i),
            ));
        }
    }
    files.push(("manifests/audit.yaml".to_string(), consumers_doc(services)));
    files
}

/// The same project with `errors` mistakes planted across it.
pub fn malformed(seed: u64, services: usize, routes: usize, errors: usize) -> Vec<File> {
    let mut files = generate(seed, services, routes);
    let mistakes: [(&str, &str); 5] = [
        ("    output: Item", "    output: Iten"),
        ("  POST /item", "  POST item"),
        ("schedule: \"*/", "schedule: \"*/0 "),
        (
            "      quantity: { type: integer, min: 0",
            "      quantity: { type: integer, min: 5000",
        ),
        (
            "    permission: items:write\n",
            "    permission: items::write\n",
        ),
    ];
    let count = files.len();
    for k in 0..errors {
        let (from, to) = mistakes[k % mistakes.len()];
        // spread: start at a different file for each mistake, take the next that fits
        let start = (k * 7919) % count.max(1);
        let target = (0..count)
            .map(|o| (start + o) % count)
            .find(|&f| files[f].1.contains(from));
        if let Some(f) = target
            && let Some(at) = files[f].1.find(from)
        {
            // a misspelt type gets its own name each time: svcc reports an
            // unknown name once, however often it is used
            let to = if to.ends_with("Iten") {
                format!("{to}{k}x")
            } else {
                to.to_string()
            };
            files[f].1.replace_range(at..at + from.len(), &to);
        }
    }
    files
}

/// The project file of the one-dimension shapes: every target.
fn project_toml(name: &str, targets: &str) -> File {
    (
        "svcc.toml".to_string(),
        format!(
            "[project]\nname = \"{name}\"\nversion = \"0.1.0\"\n\n[build]\ntargets = [{targets}]\n"
        ),
    )
}

/// The targets `svcc build` makes by default in the one-dimension shapes
/// (the Rust target is measured on its own: `--target rust`).
const DOC_TARGETS: &str = "\"openapi\", \"asyncapi\", \"wrangler\"";

/// Entity `i` of the one-service shape: its status enum and object type.
/// Each item refers to the one before (`previous`), so the types form one
/// connected graph, as the schemas of a large API do.
fn large_types(i: usize, rng: &mut Rng) -> String {
    let e = entity(i);
    let max = 100 + rng.below(900);
    let previous = if i > 0 {
        format!("      previous: {}?\n", entity(i - 1))
    } else {
        String::new()
    };
    format!(
        "  {e}Status:\n    enum: [draft, active, archived]\n  {e}:\n    description: An item of kind {i}\n    fields:\n      id: {{ type: uuid, readOnly: true }}\n      customerId: uuid\n      name: {{ type: string, minLength: 1, maxLength: 120, example: Widget }}\n      price: {{ type: decimal, min: 0 }}\n      quantity: {{ type: integer, min: 0, max: {max} }}\n      status: {e}Status\n      tags: {{ type: list<string>, maxItems: 10 }}\n      note: string?\n{previous}      createdAt: {{ type: datetime, readOnly: true }}\n"
    )
}

/// The four operations of entity `i` in the one-service shape.
fn large_routes(i: usize, rng: &mut Rng) -> String {
    let e = entity(i);
    let lower = e.to_lowercase();
    let limit = if rng.below(3) == 0 {
        format!("\n    rateLimit: {}/min per user", 10 + rng.below(90))
    } else {
        String::new()
    };
    format!(
        "  POST /{lower}s:\n    operation: create{e}\n    input: {e}\n    output: {e}\n    permission: items:write\n    idempotent: true\n    emits: [{e}.created]\n  GET /{lower}s/{{id}}:\n    operation: get{e}\n    params: {{ id: uuid }}\n    output: {e}\n    permission: items:read:own\n    cache: 30s\n  GET /{lower}s:\n    operation: list{e}s\n    query: {{ status: {e}Status?, limit: {{ type: integer, min: 1, max: 100, default: 20 }} }}\n    output: list<{e}>\n  POST /{lower}s/{{id}}/approve:\n    operation: approve{e}\n    params: {{ id: uuid }}\n    input: {e}\n    output: {e}\n    status: 200\n    errors: [{e}Conflict]\n    permission: items:write{limit}\n"
    )
}

/// One service of `operations` operations (rounded down to a multiple of
/// four, at least four) and half as many types: per entity an object type
/// and its status enum, an error, an event, and create, get, list and
/// approve. A second, small service subscribes to every event.
pub fn one_service(seed: u64, operations: usize) -> Vec<File> {
    let mut rng = Rng(seed.max(1));
    let entities = (operations / 4).max(1);
    let mut types = String::from("kind: Types\nname: CatalogTypes\ntypes:\n");
    let mut errors = String::new();
    let mut routes = String::new();
    let mut publishes = String::new();
    let mut audit = String::from(
        "kind: Service\nname: AuditService\nroutes:\n  GET /audit:\n    operation: listAudit\n    output: list<string>\nevents:\n  subscribes:\n",
    );
    for i in 0..entities {
        let e = entity(i);
        types.push_str(&large_types(i, &mut rng));
        errors.push_str(&format!(
            "  {e}Conflict:\n    status: 409\n    description: The item changed meanwhile\n    fields: {{ currentStatus: {e}Status }}\n"
        ));
        routes.push_str(&large_routes(i, &mut rng));
        publishes.push_str(&format!("    {e}.created: {e}\n"));
        audit.push_str(&format!("    {e}.created: {{ handler: on{e}Created }}\n"));
    }
    let e = entity(0);
    let service = format!(
        "kind: Service\nname: CatalogService\nversion: 1.0.0\ndescription: One large API\nauth: jwt\nroles:\n  admin: [\"*\"]\n  customer: [items:read:own, items:write]\nerrors:\n{errors}routes:\n{routes}events:\n  publishes:\n{publishes}state:\n  entity: {e}\n  field: status\n  initial: draft\n  transitions:\n    activate: {{ from: draft, to: active, emits: {e}.activated }}\n    archive: {{ from: [draft, active], to: archived, emits: {e}.archived }}\njobs:\n  sweep: {{ schedule: \"*/5 * * * *\", timeout: 5m }}\n"
    );
    audit.push_str(&format!(
        "    {e}.activated: {{ handler: on{e}Activated }}\n    {e}.archived: {{ handler: on{e}Archived }}\n"
    ));
    vec![
        project_toml("one-service", DOC_TARGETS),
        ("manifests/types.yaml".to_string(), types),
        ("manifests/catalog.yaml".to_string(), service),
        ("manifests/audit.yaml".to_string(), audit),
    ]
}

/// Field `k` of the one-type shape: a mix of types and constraints.
fn wide_field(k: usize) -> String {
    match k % 8 {
        0 => format!("      name{k}: {{ type: string, minLength: 1, maxLength: 120 }}\n"),
        1 => format!(
            "      count{k}: {{ type: integer, min: 0, max: {} }}\n",
            100 + k
        ),
        2 => format!("      price{k}: {{ type: decimal, min: 0 }}\n"),
        3 => format!("      note{k}: string?\n"),
        4 => format!("      tags{k}: {{ type: list<string>, maxItems: 10 }}\n"),
        5 => format!("      at{k}: {{ type: datetime, readOnly: true }}\n"),
        6 => format!("      code{k}: {{ type: string, pattern: '^[A-Z]{{2}}[0-9]+$' }}\n"),
        _ => format!("      state{k}: {{ type: \"enum[on, off]\", default: \"off\" }}\n"),
    }
}

/// One service whose one object type has `fields` fields, created, read,
/// listed and replaced.
pub fn one_type(fields: usize) -> Vec<File> {
    let mut types = String::from(
        "kind: Types\nname: WideTypes\ntypes:\n  Record:\n    description: A record of many fields\n    fields:\n      id: { type: uuid, readOnly: true }\n",
    );
    for k in 0..fields.saturating_sub(1) {
        types.push_str(&wide_field(k));
    }
    let service = "kind: Service\nname: RecordService\nversion: 1.0.0\nroutes:\n  POST /records:\n    operation: createRecord\n    input: Record\n    output: Record\n  GET /records/{id}:\n    operation: getRecord\n    params: { id: uuid }\n    output: Record\n  GET /records:\n    operation: listRecords\n    output: list<Record>\n  PUT /records/{id}:\n    operation: replaceRecord\n    params: { id: uuid }\n    input: Record\n    output: Record\n";
    vec![
        project_toml("one-type", DOC_TARGETS),
        ("manifests/types.yaml".to_string(), types),
        ("manifests/records.yaml".to_string(), service.to_string()),
    ]
}

/// `types` object types, each extending the one before and adding two
/// fields (one of them redeclaring, narrowed, a field of its parent), used
/// by one service.
pub fn extends_chain(types: usize) -> Vec<File> {
    let mut doc = String::from(
        "kind: Types\nname: ChainTypes\ntypes:\n  Level0:\n    fields:\n      id: { type: uuid, readOnly: true }\n      label: string?\n",
    );
    for i in 1..types {
        doc.push_str(&format!(
            "  Level{i}:\n    extends: Level{}\n    fields:\n      field{i}: {{ type: integer, min: 0 }}\n      label: string\n",
            i - 1
        ));
    }
    let last = types.saturating_sub(1);
    let service = format!(
        "kind: Service\nname: ChainService\nroutes:\n  POST /levels:\n    operation: createLevel\n    input: Level{last}\n    output: Level{last}\n  GET /levels/{{id}}:\n    operation: getLevel\n    params: {{ id: uuid }}\n    output: Level0\n"
    );
    vec![
        project_toml("extends-chain", DOC_TARGETS),
        ("manifests/types.yaml".to_string(), doc),
        ("manifests/chain.yaml".to_string(), service),
    ]
}

/// A service whose description is one scalar of about `bytes` bytes:
/// words on one line, as a generated or pasted description would be.
pub fn long_scalar(bytes: usize) -> Vec<File> {
    let words = [
        "service", "ledger", "entry", "account", "balance", "of", "the",
    ];
    let mut text = String::with_capacity(bytes + 16);
    let mut k = 0;
    while text.len() < bytes {
        if !text.is_empty() {
            text.push(' ');
        }
        text.push_str(words[k % words.len()]);
        k += 1;
    }
    let service = format!(
        "kind: Service\nname: LedgerService\ndescription: {text}\nroutes:\n  GET /entries:\n    operation: listEntries\n    output: list<string>\n"
    );
    vec![
        project_toml("long-scalar", DOC_TARGETS),
        ("manifests/ledger.yaml".to_string(), service),
    ]
}

/// Writes a corpus under `root`.
pub fn write(root: &std::path::Path, files: &[File]) -> std::io::Result<()> {
    for (path, text) in files {
        let full = root.join(path);
        if let Some(dir) = full.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(full, text)?;
    }
    Ok(())
}
