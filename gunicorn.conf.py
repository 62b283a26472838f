"""gunicorn's settings for the web process, read from the working directory by every way callops is
started: the Procfile's `web`, `make run` (scripts/run.py) and the fault suite's clusters
(bench/reliability/cluster.py), so the three cannot drift apart. Command-line flags override it.

The numbers, for a 2-core host (README, "Processes"):

- `gthread`, WEB_CONCURRENCY processes x WEB_THREADS threads. A request spends much of its time
  waiting on PostgreSQL and Redis, which releases the GIL, so a few threads per process keep a
  core busy; more processes than cores only add memory (each is ~110 MB) and context switches.
  gevent is not used: the code relies on blocking psycopg and redis-py calls, thread-local
  database connections and `select_for_update` transactions that greenlets would interleave.
- keep-alive: an API client (or a load balancer) reuses its connection instead of paying a TCP
  handshake and a thread hand-off per request; idle connections cost a socket in the poller, not
  a thread. 75 s outlasts the usual load balancer idle timeout (60 s), so the balancer, not
  gunicorn, closes an idle connection and never sends a request on a socket being closed.
- `preload_app`: the application is imported once in the master and forked, so a restart or a
  new worker does not import Django again (tens of seconds on a busy host) and the workers share
  the imported code's memory. Nothing opens a database or Redis connection at import time.
- `gc.freeze()` before each fork: what the master imported moves to a permanent generation, so a
  worker's full garbage collections scan only the objects it made since. In a process holding the
  loaded app, full collections during dashboard requests took 104-149 ms each (5 in 80 comparison
  page requests, the slowest 6 %); frozen, 1 ms. It also keeps the collector from writing to the
  shared pages, which would copy them into every worker.
"""

import gc
import os

worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("WEB_THREADS", "4"))
keepalive = 75
preload_app = True


def pre_fork(server, worker):
    gc.freeze()
