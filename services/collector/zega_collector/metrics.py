"""The collector's own metrics (bounded labels: never a user_id)."""

from prometheus_client import Counter

EXAMPLES = Counter(
    "zega_collector_examples_total",
    "Examples handled, by outcome: first_seen (a new marker), seen_before (a duplicate or a redelivery), "
    "refused (dead-lettered).",
    ["outcome"],
)
THRESHOLDS = Counter("zega_collector_thresholds_total", "threshold.reached events published (repeats included).")
RETRIES = Counter(
    "zega_collector_retries_total", "Deliveries handed back for a retry after an error, by handler.", ["handler"]
)
