"""Operations for the administrator's CLI: health checks, backup and restore, demo data.

The click commands in app/cli.py stay thin: they parse arguments, call these functions and print.
"""


class OpsError(Exception):
    """An operation refused or failed in a way the administrator can fix; `exit_code` is the CLI's status."""

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
