"""Django's Redis cache backend, keeping one client object per connection pool.

Django's RedisCacheClient builds a new redis.Redis for every cache call (setting up its table of
some 170 response callbacks each time) around the same connection pool. The session store reads
the cache on every dashboard request, so the client is built once per pool and reused; it holds
no state of its own besides the pool, which is what makes that safe.
"""

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient


class _ReusingClient(RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class RedisCache(DjangoRedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = _ReusingClient
