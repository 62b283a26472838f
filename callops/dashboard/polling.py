"""Responses to htmx polls: a polled fragment tells htmx to stop once nothing on it will change."""

from django_htmx.http import HttpResponseStopPolling


def stop_polling_if(done: bool, response):
    """Swap in the final fragment and tell htmx to stop polling (HTTP 286) once nothing will change."""
    if not done:
        return response
    stopped = HttpResponseStopPolling(response.content)
    for key, value in response.items():
        stopped[key] = value
    return stopped
