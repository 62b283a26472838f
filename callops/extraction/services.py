"""Result extraction for completed calls."""


def start(call) -> None:
    """Begin extraction for a call that just completed with a `returns` schema."""
