//! `GET /metrics`: request counts, latency histogram and errors by route,
//! in the Prometheus text format (OpenMetrics), from `prometheus-client`.
//!
//! A declared route records through its [`RouteMetrics`]: its histogram
//! and the counter of its success status are looked up in their families
//! (a hash and a lock each) once, on its first such answer, so a series
//! still appears when it is first recorded, as with [`Metrics::record`].

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::OnceLock;

// Label values are the manifest's static strings (and the runtime's own
// `-` and method names), so recording an answer allocates nothing.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    operation: &'static str,
    method: &'static str,
    route: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    operation: &'static str,
}

/// A route's labels and, once recorded, its series that every answer
/// touches: the latency histogram and the counter of its success status.
#[derive(Debug)]
pub(crate) struct RouteMetrics {
    operation: &'static str,
    method: &'static str,
    route: &'static str,
    success: u16,
    answered: OnceLock<Counter>,
    latency: OnceLock<Histogram>,
}

impl RouteMetrics {
    /// For a route and the status it answers with when it succeeds.
    pub(crate) fn new(
        operation: &'static str,
        method: &'static str,
        route: &'static str,
        success: u16,
    ) -> Self {
        RouteMetrics {
            operation,
            method,
            route,
            success,
            answered: OnceLock::new(),
            latency: OnceLock::new(),
        }
    }

    fn labels(&self, status: u16) -> RequestLabels {
        RequestLabels {
            operation: self.operation,
            method: self.method,
            route: self.route,
            status,
        }
    }
}

/// The service's metrics.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    errors: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

fn buckets() -> Histogram {
    Histogram::new([
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    ])
}

impl Metrics {
    /// Registers the families, with the service's name as a prefix label.
    pub fn new(service: &str) -> Self {
        let mut registry = Registry::with_prefix_and_labels(
            "svcc",
            [(
                std::borrow::Cow::Borrowed("service"),
                std::borrow::Cow::Owned(service.to_string()),
            )]
            .into_iter(),
        );
        let requests = Family::<RequestLabels, Counter>::default();
        let errors = Family::<RequestLabels, Counter>::default();
        let latency =
            Family::<RouteLabels, Histogram>::new_with_constructor(buckets as fn() -> Histogram);
        registry.register("http_requests", "HTTP requests answered", requests.clone());
        registry.register(
            "http_errors",
            "HTTP answers with a 4xx or 5xx status",
            errors.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time to answer",
            latency.clone(),
        );
        Metrics {
            registry,
            requests,
            errors,
            latency,
        }
    }

    /// Records one answer.
    pub fn record(
        &self,
        operation: &'static str,
        method: &'static str,
        route: &'static str,
        status: u16,
        seconds: f64,
    ) {
        let labels = RequestLabels {
            operation,
            method,
            route,
            status,
        };
        if status >= 400 {
            self.errors.get_or_create(&labels).inc();
        }
        self.requests.get_or_create(&labels).inc();
        self.latency
            .get_or_create(&RouteLabels { operation })
            .observe(seconds);
    }

    /// Records one answer of a route, as [`Metrics::record`] does; its
    /// success answers through the series the route keeps.
    pub(crate) fn record_route(&self, route: &RouteMetrics, status: u16, seconds: f64) {
        if status != route.success || status >= 400 {
            self.record(route.operation, route.method, route.route, status, seconds);
            return;
        }
        route
            .answered
            .get_or_init(|| self.requests.get_or_create(&route.labels(status)).clone())
            .inc();
        route
            .latency
            .get_or_init(|| {
                self.latency
                    .get_or_create(&RouteLabels {
                        operation: route.operation,
                    })
                    .clone()
            })
            .observe(seconds);
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_route_and_status() {
        let m = Metrics::new("OrderService");
        m.record("getOrder", "GET", "/orders/{id}", 200, 0.002);
        m.record("getOrder", "GET", "/orders/{id}", 404, 0.001);
        let text = m.render();
        assert!(text.contains("svcc_http_requests_total{service=\"OrderService\",operation=\"getOrder\",method=\"GET\",route=\"/orders/{id}\",status=\"404\"} 1"), "{text}");
        assert!(text.contains("svcc_http_errors_total"), "{text}");
        assert!(
            text.contains("svcc_http_request_duration_seconds_bucket"),
            "{text}"
        );
    }

    #[test]
    fn a_route_records_what_record_does() {
        let by_labels = Metrics::new("OrderService");
        let by_route = Metrics::new("OrderService");
        let route = RouteMetrics::new("createOrder", "POST", "/orders", 201);
        // The series of a family come out in hash map order: compare sorted.
        let lines = |m: &Metrics| {
            let mut lines: Vec<String> = m.render().lines().map(str::to_string).collect();
            lines.sort();
            lines
        };
        // nothing recorded: no series yet
        assert_eq!(lines(&by_route), lines(&by_labels));
        for (status, seconds) in [(201, 0.002), (400, 0.001), (201, 0.3), (500, 0.01)] {
            by_labels.record("createOrder", "POST", "/orders", status, seconds);
            by_route.record_route(&route, status, seconds);
            assert_eq!(lines(&by_route), lines(&by_labels));
        }
        let text = by_route.render();
        assert!(text.contains("svcc_http_requests_total{service=\"OrderService\",operation=\"createOrder\",method=\"POST\",route=\"/orders\",status=\"201\"} 2"), "{text}");
        assert!(text.contains("svcc_http_request_duration_seconds_count{service=\"OrderService\",operation=\"createOrder\"} 4"), "{text}");
    }
}
