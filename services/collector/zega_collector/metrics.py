"""The collector's own metrics (bounded labels: never a user_id)."""

from prometheus_client import Counter, Histogram

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
BATCH_SIZE = Histogram(
    "zega_collector_batch_size",
    "Examples per fetched batch (one settlement per user per batch).",
    buckets=(1, 4, 16, 64, 128, 256, 512, 1024),
)
