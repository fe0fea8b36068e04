"""Optional Prometheus export of the monitor's samples (prometheus-client, the ``metrics``
extra): served on ``--metrics-port`` and/or pushed to the plan's ``monitor.pushgateway``."""

from __future__ import annotations

from .config import METRICS

_SERVED: dict[int, object] = {}


class PrometheusExport:
    def __init__(self, plan: str, run_id: str, port: int | None, pushgateway: str | None):
        from prometheus_client import CollectorRegistry, Gauge

        self.pushgateway = pushgateway
        self.labels = {"plan": plan, "run_id": run_id}
        self.registry = _SERVED.get(port) if port else None
        if self.registry is None:
            self.registry = CollectorRegistry()
            if port:
                from prometheus_client import start_http_server

                start_http_server(port, addr="127.0.0.1", registry=self.registry)
                _SERVED[port] = self.registry
        self.gauges = {}
        for name, (unit, text) in METRICS.items():
            metric = f"planrun_{name}" + {"duration": "_seconds", "percent": "_percent"}.get(unit, "")
            existing = getattr(self.registry, "_names_to_collectors", {}).get(metric)
            self.gauges[name] = existing or Gauge(metric, text, ["plan", "run_id"], registry=self.registry)

    def update(self, metrics: dict[str, float | None]) -> None:
        for name, value in metrics.items():
            if name in self.gauges and value is not None:
                self.gauges[name].labels(**self.labels).set(value)
        if self.pushgateway:
            from prometheus_client import push_to_gateway

            push_to_gateway(
                self.pushgateway, job="planrun", registry=self.registry, grouping_key=self.labels, timeout=2
            )
