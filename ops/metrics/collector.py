"""The database collector: turns ops/metrics/readings.py into Prometheus metric families at scrape time."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from ops.metrics import readings

PREFIX = "marketplace"


class DatabaseCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        orders = GaugeMetricFamily(
            f"{PREFIX}_orders", "Orders by state and offering type.", labels=["state", "offering_type"]
        )
        for (state, type_name), n in sorted(readings.order_counts().items()):
            orders.add_metric([state, type_name], n)
        yield orders

        transitions = CounterMetricFamily(
            f"{PREFIX}_order_transitions",
            "State changes of orders recorded in their history, by action and offering type.",
            labels=["action", "offering_type"],
        )
        for (action, type_name), n in sorted(readings.transition_counts().items()):
            transitions.add_metric([action, type_name], n)
        yield transitions

        durations = HistogramMetricFamily(
            f"{PREFIX}_order_processing_duration_seconds",
            "Time from an order entering executing to leaving it for done or erred, by offering type.",
            labels=["offering_type"],
        )
        for type_name, histogram in sorted(readings.processing_durations().items()):
            buckets = [
                (floatToGoString(b), n) for b, n in zip(readings.DURATION_BUCKETS, histogram.buckets, strict=True)
            ]
            buckets.append(("+Inf", histogram.count))
            durations.add_metric([type_name], buckets, histogram.total_seconds)
        yield durations

        failed = GaugeMetricFamily(
            f"{PREFIX}_orders_failed",
            "Erred orders by error group (the normalised error message) and whether the failure was transient.",
            labels=["error_group", "transient"],
        )
        for (group, transient), n in sorted(readings.failure_counts().items()):
            failed.add_metric([group, "true" if transient else "false"], n)
        yield failed

        unclaimed = readings.unclaimed_executing()
        yield GaugeMetricFamily(
            f"{PREFIX}_unclaimed_executing_orders",
            "Executing orders whose current attempt no worker has claimed yet.",
            value=unclaimed.count,
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_oldest_unclaimed_executing_order_age_seconds",
            "How long the oldest unclaimed executing order has been executing (0 when there is none).",
            value=unclaimed.oldest_age_seconds,
        )

        deliveries = GaugeMetricFamily(
            f"{PREFIX}_callback_deliveries",
            "Callback deliveries by state (failed: gave up after the last attempt).",
            labels=["state"],
        )
        for state, n in sorted(readings.delivery_counts().items()):
            deliveries.add_metric([state], n)
        yield deliveries

        jobs = GaugeMetricFamily(
            f"{PREFIX}_jobs", "Jobs (bulk resubmits, recoveries) by kind and state.", labels=["kind", "state"]
        )
        for (kind, state), n in sorted(readings.job_counts().items()):
            jobs.add_metric([kind, state], n)
        yield jobs

        processed = GaugeMetricFamily(
            f"{PREFIX}_job_processed_items", "Items an unfinished job has processed.", labels=["job", "kind", "state"]
        )
        total = GaugeMetricFamily(
            f"{PREFIX}_job_total_items", "Items in an unfinished job's selection.", labels=["job", "kind", "state"]
        )
        for job, kind, state, done, size in readings.unfinished_jobs():
            processed.add_metric([job, kind, state], done)
            total.add_metric([job, kind, state], size)
        yield processed
        yield total
