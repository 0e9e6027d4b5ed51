"""`python -m hls.estimate`: the performance model's command line (hls/perf/estimate.py)."""
import sys

from hls.perf.estimate import main

if __name__ == "__main__":
    sys.exit(main())
