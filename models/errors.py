"""Errors a user can act on. Their messages are shown as-is in the UI and returned by the API."""


class InputError(ValueError):
    """The user's input cannot be processed (empty, too long, malformed, ...)."""


class ModelUnavailable(RuntimeError):
    """A model cannot be loaded here (Hub unreachable, unknown name, broken weights)."""


class WeightsError(ModelUnavailable):
    """A shipped weight file is missing or unreadable."""
