"""Run the quote service: `python -m services.quote` (configuration from the environment)."""

from services.common.app import serve
from services.quote.app import build

if __name__ == "__main__":
    serve(build)
