"""Run the traffic service: `python -m services.traffic` (configuration from the environment)."""

from services.common.app import serve
from services.traffic.app import build

if __name__ == "__main__":
    serve(build)
