"""The one exception type for bad input: its message names the file, key or value."""


class VvcjndError(Exception):
    """Bad input or a failed tool; the message says what, where, and what was expected."""
