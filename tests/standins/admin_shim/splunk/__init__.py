"""The few names of splunkd's private ``splunk`` package that UCC's REST handlers import.

Why this package exists: splunkd runs an app's ``admin_external`` REST handlers in its
own Python, where ``splunk`` (``splunk.admin`` above all) comes with Splunk and cannot
be installed here. With this directory first on ``PYTHONPATH`` the generated
``bin/*_rh_*.py``, splunktaucclib and solnlib run unchanged; ``splunk.admin`` holds the
shim of the admin protocol (see its docstring).
"""


class RESTException(Exception):  # noqa: N818 (splunk's name)
    """``splunk.RESTException``: splunktaucclib's error_ctl imports it."""

    def __init__(self, statusCode: int = 500, msg: str = "") -> None:  # noqa: N803 (splunk's names)
        super().__init__(msg)
        self.statusCode = statusCode  # noqa: N815
        self.msg = msg
