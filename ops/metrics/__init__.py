"""Prometheus metrics at /metrics (README "Monitoring"), with prometheus_client.

Where each number comes from, and why. The web (several gunicorn workers, maybe on several machines) and
the Celery workers are separate processes; a counter incremented in a worker is invisible to the web
process that answers the scrape, and prometheus_client's multiprocess mode only shares files between
processes of one machine. The order rows and their history are shared by all of them and are the source of
truth anyway, so everything about fulfilment is read from the database at scrape time, in a constant
number of aggregate queries (ops/metrics/readings.py):

- orders by state and offering type, erred orders by error group and transient flag, the unclaimed
  executing orders and the age of the oldest, callback deliveries by state, jobs by kind and state and the
  progress of unfinished jobs: gauges of the current rows;
- transitions by action and offering type, and the processing duration (entering executing → done or
  erred) by offering type: a counter and a histogram derived from the OrderEvent history. They only grow
  while history is kept; deleting orders (delete, unlink) lowers them, which Prometheus' rate() treats
  as a counter reset. They are exact across restarts and however many processes did the work.

Only the HTTP request latency is observed in-process (ops/metrics/http.py), by the process that served the
request. With several gunicorn workers set PROMETHEUS_MULTIPROC_DIR to an empty directory (emptied on each
start; docker-compose.yml uses a tmpfs) so the scrape, whichever worker answers it, sums them all.

Cost: every scrape groups the orders and their events; with a scrape interval of 15-60 s that is cheap up
to millions of events (the duration histogram looks up each exit's entering event by the order's index).
"""
