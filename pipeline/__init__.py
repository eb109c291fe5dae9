"""Predictive lead scoring."""

import os

# OpenMP threads that spin while waiting starve everything else on a small shared machine: a
# 2-thread LightGBM fit measured 4x-20x slower with the default policy when other processes were
# busy. Passive waiting costs little when the machine is idle. Must be set before lightgbm loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
