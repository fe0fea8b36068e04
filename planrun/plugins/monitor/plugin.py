"""Hooks of the monitor plugin: the ``monitor:`` plan section, and a :class:`Monitor` running
for as long as the migrate phase does (backfills run inside the migration, so they are watched
too)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from planrun.plugin import Fact, hookimpl

from .events import EVENTS

if TYPE_CHECKING:
    from .config import MonitorConfig

_KEY = "monitor.running"


@dataclass(frozen=True)
class Monitored(Fact):
    """How much the monitor looked at during the migration (for the run's record)."""

    samples: int = 0
    queries: int = 0


@hookimpl
def planrun_journal_events():
    return EVENTS


@hookimpl
def planrun_command_options(command, parser):
    if command.name == "apply":
        parser.add_argument(
            "--metrics-port", type=int, default=None, help="serve the monitor's metrics for Prometheus on this port"
        )


@hookimpl
def planrun_plan_sections():
    from .config import MonitorConfig  # with pydantic: loaded when a plan is read, not for --help

    return {"monitor": MonitorConfig}


def _config(plan) -> MonitorConfig:
    from .config import MonitorConfig

    return getattr(plan, "monitor", None) or MonitorConfig()


@hookimpl
def planrun_step_started(ctx, step):
    config = _config(ctx.plan)
    if step.phase != "migrate" or not config.enabled or ctx.options.command != "apply":
        return
    from .watch import Monitor

    monitor = Monitor(ctx, config, _export(ctx, config))
    ctx.state[_KEY] = monitor
    monitor.start()


@hookimpl
def planrun_step_finished(ctx, step, outcome, error):
    monitor = ctx.state.pop(_KEY, None)
    if monitor is not None:
        monitor.stop()
        ctx.facts.publish(Monitored(monitor.samples, monitor.queries))


def _export(ctx, config: MonitorConfig):
    port = ctx.options.flags.get("metrics_port")
    if not port and not config.pushgateway:
        return None
    try:
        from .metrics import PrometheusExport

        return PrometheusExport(ctx.plan.name, ctx.run_id, port, config.pushgateway)
    except ImportError:
        ctx.reporter.warning("monitor: Prometheus metrics need prometheus-client (pip install 'planrun[metrics]')")
    except OSError as exc:
        ctx.reporter.warning(f"monitor: cannot serve metrics on port {port}: {exc}")
    return None
