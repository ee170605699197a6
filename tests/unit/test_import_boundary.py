from __future__ import annotations

import subprocess
import sys

FORBIDDEN = ("faust", "mode", "kafka", "aiokafka", "prometheus_client")
PURE_MODULES = (
    "schemas",
    "schemas.codec",
    "schemas.export",
    "streams.core.ingest",
    "streams.core.dedup",
)


def test_pure_core_imports_no_stream_or_metrics_library():
    # A fresh interpreter, so modules imported by other tests do not count.
    code = (
        "import sys\n"
        f"for name in {PURE_MODULES!r}: __import__(name)\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r})\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""
