//! `GET /metrics`: request counts, latency histogram and errors by route,
//! in the Prometheus text format (OpenMetrics), from `prometheus-client`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

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
}
