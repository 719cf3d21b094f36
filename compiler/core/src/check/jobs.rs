//! Checks of scheduled jobs: schedules as Cloudflare Cron Triggers read them.

use super::cron;
use crate::ast::Service;
use crate::diagnostic::{Code, Diagnostic, Diagnostics};

/// Checks every job's schedule.
pub fn check(service: &Service, out: &mut Diagnostics) {
    for job in &service.jobs {
        let Some(node) = &job.schedule else { continue };
        let Some(text) = node.as_str() else { continue };
        if let Err(err) = cron::parse_schedule(text) {
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
