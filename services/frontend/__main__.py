"""Run the frontend service: `python -m services.frontend` (configuration from the environment)."""

from services.common.app import serve
from services.frontend.app import build

if __name__ == "__main__":
    serve(build)
