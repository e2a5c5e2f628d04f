"""Run the user service: `python -m services.user` (configuration from the environment)."""

from services.common.app import serve
from services.user.app import build

if __name__ == "__main__":
    serve(build)
