"""python -m hls: the pipeline's named steps, `make hls` (hls/hls_flow.py)."""
import sys

from hls.hls_flow import main

if __name__ == "__main__":
    sys.exit(main())
