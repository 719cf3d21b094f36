//! Checks of scheduled jobs: schedules as Cloudflare Cron Triggers read them.

use crate::ast::Service;
use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::syntax::cron;
use std::collections::HashMap;

/// Results per schedule text: projects repeat the same few schedules, and
/// the second opinion from croner is the costly part of a check.
pub type Memo = HashMap<String, Result<cron::Schedule, cron::ScheduleError>>;

/// Checks every job's schedule.
pub fn check(service: &Service, memo: &mut Memo, out: &mut Diagnostics) {
    for job in &service.jobs {
        let Some(node) = &job.schedule else { continue };
        let Some(text) = node.as_str() else { continue };
        let result = memo
            .entry(text.to_string())
            .or_insert_with(|| cron::parse_schedule(text));
        if let Err(err) = result.clone() {
            let d = Diagnostic::error(
                Code::E0319,
                node.sub_span(err.start..err.end),
                format!(
                    "invalid schedule for job `{}`: {}",
                    job.name.value, err.message
                ),
            )
            .label("invalid here");
            out.push(d.maybe_help(err.help));
        }
    }
}
