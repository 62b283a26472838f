"""The one question every call path asks before it dials: may this organization call this number now?"""


class CallRefused(Exception):
    """A calling rule refuses this call. `code` is the call's error_code when it is canceled."""

    def __init__(self, message: str, *, code: str):
        super().__init__(message)
        self.message = message
        self.code = code
