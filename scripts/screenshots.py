"""Screenshots of the console's main pages at 1440 px and 390 px into docs/screenshots/.

    .venv/bin/python scripts/screenshots.py

Runs tests/browser/console_screenshots.py through scripts/test.py (so PostgreSQL and Redis come
from DATABASE_URL / REDIS_URL, or the embedded defaults), against seeded data in a real Chromium.
"""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

if __name__ == "__main__":
    env = {**os.environ, "SCREENSHOTS_DIR": str(ROOT / "docs" / "screenshots")}
    cmd = [sys.executable, str(ROOT / "scripts" / "test.py"), "-n0", "-q", "-p", "no:cacheprovider",
           "tests/browser/console_screenshots.py"]
    sys.exit(subprocess.call(cmd, cwd=ROOT, env=env))
