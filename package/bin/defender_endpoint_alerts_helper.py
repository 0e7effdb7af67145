"""Entry points that UCC's generated input script calls.

The generated ``bin/defender_endpoint_alerts.py`` stays untouched: it parses splunkd's
stdin XML with splunklib and hands the result to these two functions. Everything of
substance lives in the ``mde_alerts`` package so that tests can import it without
Splunk.
"""

from __future__ import annotations

import import_declare_test  # noqa: F401  (puts the package's lib/ on sys.path)
from splunklib import modularinput as smi

from mde_alerts import modinput


def validate_input(definition: smi.ValidationDefinition) -> None:
    modinput.validate_input(definition.parameters)


def stream_events(inputs: smi.InputDefinition, event_writer: smi.EventWriter) -> None:
    modinput.stream_events(inputs.metadata, inputs.inputs, event_writer)
