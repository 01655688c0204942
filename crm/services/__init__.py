"""Domain services: plain functions per capability; they own the transaction."""


class ServiceError(Exception):
    """Base of every typed error a service raises; `message` is already localised."""

    def __init__(self, message: str, *, field: str | None = None, status: int = 400):
        super().__init__(message)
        self.message = message
        self.field = field
        self.status = status
