//! The registry of diagnostic codes.
//!
//! Codes are stable: a code is never reused for another meaning. Each one has
//! a one-line title and a markdown page under `explain/` (printed by
//! `svcc explain CODE`), embedded with `include_str!`, so a code without an
//! explanation does not compile.

use serde::{Serialize, Serializer};

macro_rules! codes {
    ($( $(#[$doc:meta])* $code:ident => $title:literal, )*) => {
        /// A stable diagnostic code.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code {
            $( $(#[$doc])* $code, )*
        }

        impl Code {
            /// Every code, in order.
            pub const ALL: &'static [Code] = &[$(Code::$code,)*];

            /// The code as written: `E0203`.
            pub fn as_str(self) -> &'static str {
                match self { $(Code::$code => stringify!($code),)* }
            }

            /// A one-line title.
            pub fn title(self) -> &'static str {
                match self { $(Code::$code => $title,)* }
            }

            /// The long explanation (markdown).
            pub fn explanation(self) -> &'static str {
                match self {
                    $(Code::$code => include_str!(concat!("explain/", stringify!($code), ".md")),)*
                }
            }
        }
    };
}

codes! {
    // E0001-E0099: reading
    E0001 => "YAML syntax error",
    E0002 => "file is not valid UTF-8",
    E0003 => "duplicate key",
    E0004 => "file too large",
    E0005 => "alias expansion limit exceeded",
    E0006 => "unknown document kind",
    E0007 => "TOML syntax error",
    E0008 => "unsupported YAML tag",
    E0009 => "invalid project file (svcc.toml)",
    E0010 => "file could not be read",
    // E0100-E0199: shape
    E0100 => "unknown field",
    E0101 => "missing required field",
    E0102 => "wrong value type",
    E0103 => "bad identifier",
    E0104 => "duplicate name",
    E0105 => "names collide in generated code or files",
    E0106 => "value is not one of the allowed values",
    E0107 => "invalid duration",
    E0108 => "invalid rate",
    E0109 => "invalid reference",
    E0110 => "invalid version",
    E0111 => "name cannot become a file or crate name",
    // E0200-E0299: types
    E0200 => "unknown type",
    E0201 => "invalid type expression",
    E0202 => "constraint does not fit the type",
    E0203 => "contradictory bounds",
    E0204 => "default or example violates the field's constraints",
    E0205 => "pattern is not a valid regular expression",
    E0206 => "cycle of `extends`",
    E0207 => "field changes the type it inherits",
    E0208 => "required fields form a cycle",
    E0209 => "invalid `oneOf` variant",
    E0210 => "invalid enum values",
    E0211 => "`extends` names a type that is not an object",
    E0212 => "type definition mixes `fields`, `enum` and `oneOf`",
    E0213 => "numeric bound the field's type cannot hold",
    // E0300-E0399: services
    E0300 => "invalid route key",
    E0301 => "duplicate operation",
    E0302 => "parameter is not in the path",
    E0303 => "ambiguous routes",
    E0304 => "request body not allowed for this method",
    E0305 => "unknown error",
    E0306 => "error status out of range",
    E0307 => "permission not granted by any role",
    E0308 => "`:own` permission without an owner field",
    E0309 => "invalid success status",
    E0310 => "`cache` on a route that is not GET",
    E0311 => "route emits an event the service does not publish",
    E0312 => "subscribed event is never published",
    E0313 => "event published by more than one service",
    E0314 => "duplicate handler",
    E0315 => "invalid state machine entity",
    E0316 => "unknown state",
    E0317 => "state unreachable from `initial`",
    E0318 => "transition emits an event that does not carry the entity",
    E0319 => "invalid job schedule",
    E0320 => "unknown call target",
    E0321 => "cycle of synchronous calls",
    E0322 => "service calls itself",
    E0323 => "auth settings without `auth`",
    E0324 => "parameter type is not a scalar",
    E0325 => "`idempotent` on a method that is idempotent already",
    E0326 => "unknown health check",
    E0327 => "invalid permission",
    E0328 => "unknown owner field",
    // E0400-E0499: sagas
    E0400 => "saga trigger is not a known event",
    E0401 => "duplicate step name",
    E0402 => "unknown step operation",
    E0403 => "step without a compensation",
    E0404 => "step input does not match the operation",
    E0405 => "invalid `when` expression",
    E0406 => "unknown path in a `when` expression",
    E0407 => "`when` compares values that cannot be compared",
    E0408 => "`when` reads an optional value without saying what happens when it is absent",
    E0409 => "saga can trigger itself again",
    E0410 => "saga ends with an event nobody publishes",
    E0411 => "invalid step input reference",
    E0412 => "malformed step",
    E0413 => "step operation cannot find what it acts on",
    E0414 => "saga event does not carry the saga's input",
    // E0500-E0599: pricing
    E0500 => "pricing for an unknown service",
    E0501 => "unknown plan feature",
    E0502 => "invalid price",
    E0503 => "duplicate plan name",
    E0504 => "invalid plan limit",
    // E0600-E0699: deployments
    E0600 => "deployment of an unknown service",
    E0601 => "invalid compatibility date",
    E0602 => "secret in `vars`",
    E0603 => "duplicate binding name",
    E0604 => "invalid binding",
    E0605 => "invalid rollout steps",
    E0606 => "invalid rollback threshold",
    E0607 => "invalid route pattern",
    E0608 => "incomplete rollout strategy",
    // W0001-W0999: lints
    W0001 => "route has no contracts",
    W0002 => "type is never used",
    W0003 => "event is published but never consumed",
    W0004 => "deep chain of synchronous calls",
    W0005 => "a dearer plan offers less than a cheaper one",
    W0006 => "pricing has too many price dimensions",
    W0007 => "plan limit can never be reached",
    W0008 => "events form a cycle",
    W0009 => "synchronous call chain can outlast the route's timeout",
    W0010 => "retries without a dead-letter queue",
    W0011 => "entry of the manifests folder left out",
}

impl Code {
    /// Looks a code up by its text, case-insensitively.
    pub fn parse(text: &str) -> Option<Code> {
        Code::ALL
            .iter()
            .copied()
            .find(|c| c.as_str().eq_ignore_ascii_case(text.trim()))
    }

    /// Whether this code is a lint (a warning that can be silenced).
    pub fn is_lint(self) -> bool {
        self.as_str().starts_with('W')
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Code {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}
