"""Run the policy service: `python -m services.policy` (configuration from the environment)."""

from services.common.app import serve
from services.policy.app import build

if __name__ == "__main__":
    serve(build)
