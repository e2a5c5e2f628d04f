"""RED: parsing the services' /metrics, windows and baselines, and the verdict table."""

from __future__ import annotations

import pytest

from agents.scout.detectors.red import History, RedDetector, Totals, WindowStats, assess, parse_metrics
from sre_space.models.scout import RedSettings
from tests.unit.scout_helpers import T0

PAGE = """# HELP http_server_requests_total HTTP requests served
# TYPE http_server_requests_total counter
http_server_requests_total{method="POST",route="/api/quotes",status="201"} 90.0
http_server_requests_total{method="POST",route="/api/quotes",status="503"} 10.0
http_server_requests_total{method="GET",route="/health",status="200"} 5000.0
http_server_requests_created{method="POST",route="/api/quotes",status="201"} 1.7e9
http_server_request_duration_seconds_bucket{le="0.1",method="POST",route="/api/quotes"} 80.0
http_server_request_duration_seconds_bucket{le="0.5",method="POST",route="/api/quotes"} 95.0
http_server_request_duration_seconds_bucket{le="+Inf",method="POST",route="/api/quotes"} 100.0
http_server_request_duration_seconds_bucket{le="0.1",method="GET",route="/health"} 5000.0
http_server_request_duration_seconds_bucket{le="+Inf",method="GET",route="/health"} 5000.0
"""
CFG = RedSettings()


def test_parse_leaves_probe_routes_out() -> None:
    totals = parse_metrics(PAGE, T0, CFG.ignore_routes)
    assert (totals.requests, totals.errors) == (100.0, 10.0)
    assert totals.buckets == ((0.1, 80.0), (0.5, 95.0), (float("inf"), 100.0))


def test_quantile_interpolates_within_the_bucket() -> None:
    stats = WindowStats(10, 100, 0, ((0.1, 80.0), (0.5, 95.0), (float("inf"), 100.0)))
    assert stats.quantile(0.95) == pytest.approx(0.5)
    assert stats.quantile(0.5) == pytest.approx(0.0625)
    assert stats.within(0.3) == 80.0  # the largest bound below the threshold


def window(rate: float, errors: float = 0.0, slow: float = 0.0, seconds: float = 20) -> WindowStats:
    """``rate`` requests/s, a share of them 5xx, a share of them slower than 2.5 s."""
    n = rate * seconds
    return WindowStats(seconds, n, n * errors, ((0.1, n * (1 - slow)), (2.5, n * (1 - slow)), (5.0, n),
                                                (float("inf"), n)))


@pytest.mark.parametrize(
    ("win", "base", "fired"),
    [
        (window(5), window(5), set()),  # steady
        (window(5, errors=0.3), window(5), {"error_ratio"}),  # 30% 5xx
        (window(5, errors=0.04), window(5), set()),  # under the 5% floor
        (window(5, errors=0.2), window(5, errors=0.1), set()),  # within 3x of its own baseline
        (window(5, slow=0.2), window(5), {"latency_p95"}),  # p95 beyond 2.5 s
        (window(0.01), window(5), {"traffic_drop"}),  # traffic fell to almost nothing
        (window(0.3), None, set()),  # too few requests and no baseline: no verdict
        (window(5, slow=0.2), None, set()),  # no baseline: latency is not judged
        (window(5, errors=0.1), None, set()),  # no baseline: 10% errors is under the 15% gross limit
        (window(5, errors=0.3), None, {"error_ratio"}),  # no baseline: 30% is gross
    ],
)
def test_assess(win: WindowStats, base: WindowStats | None, fired: set[str]) -> None:
    found, _ = assess("frontend", win, base, CFG, T0)
    assert {s.signal for s in found} == fired


def test_history_window_baseline_and_restart() -> None:
    hist = History()
    for i in range(40):  # 2 s apart, 5 requests/s
        hist.add(Totals(T0 + 2 * i, 10.0 * i, 0.0, ((float("inf"), 10.0 * i),)), keep_s=320)
    win = hist.window(20)
    base = hist.baseline(20, 30)
    assert win is not None and win.rate == pytest.approx(5.0)
    assert base is not None and base.seconds == pytest.approx(58)
    hist.add(Totals(T0 + 80, 3.0, 0.0, ((float("inf"), 3.0),)), keep_s=320)  # counters restarted
    assert hist.window(20) is None and len(hist.scrapes) == 1


def test_detector_scrapes_and_skips_services_that_do_not_answer() -> None:
    now = [T0]
    pages = {"frontend": PAGE, "quote-service": None}
    det = RedDetector(CFG, lambda: {"frontend": "http://f", "quote-service": "http://q"},
                      lambda urls: {name: pages[name] for name in urls}, lambda: now[0])
    det.check()
    now[0] += 2
    pages["frontend"] = PAGE.replace("} 90.0", "} 190.0")
    check = det.check()
    assert set(det.history) == {"frontend"}
    assert {c.signal for c in check.clears if c.service == "frontend"} >= {"error_ratio", "traffic_drop"}
