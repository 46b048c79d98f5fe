"""``python -m lab.agent_standin``: build the stand-in package into a mirror folder."""

from __future__ import annotations

import sys

from lab.agent_standin.build import main

sys.exit(main())
