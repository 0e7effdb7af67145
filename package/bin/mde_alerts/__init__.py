"""Microsoft Defender for Endpoint alerts for Splunk: the add-on's own code.

Importing the package makes the platform's compiled libraries importable (see
``platform_libs``), so every entry point (input, REST handler) gets them first.
"""

from __future__ import annotations

import os

from mde_alerts import platform_libs

platform_libs.add_to_sys_path(
    os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "lib")
)
