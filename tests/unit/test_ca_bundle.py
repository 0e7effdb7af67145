"""The TLS tab's CA bundle check: each way a path can be unusable gets its own sentence with the fix."""

from __future__ import annotations

import ssl
from pathlib import Path

from mde_alerts.connectivity import ca_bundle_problem


def test_an_empty_path_means_the_default_trust_store() -> None:
    assert ca_bundle_problem("  ") is None


def test_a_real_pem_bundle_is_accepted() -> None:
    default = ssl.get_default_verify_paths().cafile or "/etc/ssl/certs/ca-certificates.crt"
    assert ca_bundle_problem(default) is None


def test_a_relative_missing_or_non_pem_path_is_named_with_the_fix(tmp_path: Path) -> None:
    assert "is not absolute" in (ca_bundle_problem("ca.pem") or "")
    assert "does not exist on this Splunk server" in (ca_bundle_problem(str(tmp_path / "none.pem")) or "")
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    assert "hold PEM certificates" in (ca_bundle_problem(str(junk)) or "")
