"""One Redis client per process, shared by the queue, rate limits and leases.

django-rq's `get_connection` builds a new client (and so a new connection pool and TCP
connection) on every call; on the API's hot path that cost more than the Redis commands
themselves. redis-py's pool notices a fork and starts fresh connections in the child, so a
client made in a process that later forks (RQ's scheduler) stays safe to use in the child.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import django_rq
from django.conf import settings

if TYPE_CHECKING:
    import redis
    from redis.commands.core import Script
    from rq import Queue

_lock = threading.Lock()
_client: redis.Redis | None = None
_queues: dict[str, Queue] = {}
_scripts: dict[str, Script] = {}


def client() -> redis.Redis:
    """The process's Redis client (all queues share REDIS_URL, so one client serves them all)."""
    global _client
    if _client is None:
        with _lock:
            if _client is None:
                import redis

                # Bounded waits: a Redis that hangs must not hang an API request or a job with it.
                _client = redis.Redis.from_url(settings.RQ_QUEUES[settings.QUEUE_NAMES[0]]["URL"], socket_timeout=5,
                                               socket_connect_timeout=2, health_check_interval=30)
    return _client


def queue(name: str) -> Queue:
    """The RQ queue `name` on the shared client."""
    q = _queues.get(name)
    if q is None:
        q = _queues[name] = django_rq.get_queue(name, connection=client())
    return q


def script(source: str) -> Script:
    """A Lua script registered on the shared client (sent by its hash, loaded when missing)."""
    conn = client()
    registered = _scripts.get(source)
    if registered is None or registered.registered_client is not conn:
        registered = _scripts[source] = conn.register_script(source)
    return registered
