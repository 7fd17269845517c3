"""The supervisors' report page and CSV export in the console: a supervisor sees
the month's report with its charts and downloads the CSV; a counsellor gets 403,
someone not signed in the login page; both views are in the audit log."""

from __future__ import annotations

import csv
import io

import pytest

from bot.records.demo import generate
from bot.web import runtime_of
from tests.conftest import tokyo
from tests.console.conftest import login
from tests.records.conftest import MONTH


@pytest.fixture
def month_app(app, add_account, directory):
    runtime = runtime_of(app)
    generate(runtime.client, runtime.keys, directory, month=MONTH, count=60, seed=3)
    add_account("boss", "supervisor")
    add_account("sato", "counsellor")
    return app


def audit_actions(app):
    runtime = runtime_of(app)
    return [dict((k.decode(), v.decode()) for k, v in fields.items())
            for _, fields in runtime.client.xrange(runtime.keys.audit_log())]


def test_a_supervisor_sees_the_report_with_charts_as_images(month_app):
    client = month_app.test_client()
    assert login(client, "boss").status_code == 302
    page = client.get(f"/console/report?month={MONTH}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "月次報告 2026年11月" in html and "相談件数" in html and ">60<" in html
    assert html.count('src="data:image/svg+xml;base64,') == 7
    assert "<script" not in html.split("</header>", 1)[1] and " style=" not in html
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    css = client.get("/console/report-static/report.css")
    assert css.status_code == 200 and b"size: A4" in css.data
    assert any(e.get("action") == "view_report" and e.get("who") == "boss" for e in audit_actions(month_app))


def test_the_console_report_of_a_generated_month_says_demo_data_and_a_real_month_does_not(month_app):
    client = month_app.test_client()
    login(client, "boss")
    page = client.get(f"/console/report?month={MONTH}").get_data(as_text=True)
    assert "【デモデータ】" in page and 'class="demo-mark"' in page and "（デモデータ）</h1>" in page
    other = client.get("/console/report?month=2026-10").get_data(as_text=True)
    assert "月次報告 2026年10月" in other and "デモデータ" not in other


def test_without_a_month_the_page_shows_this_month_by_the_runtimes_clock(month_app):
    runtime_of(month_app).clock = lambda: tokyo("2026-11-20 15:00")  # serve --at, say
    client = month_app.test_client()
    login(client, "boss")
    page = client.get("/console/report").get_data(as_text=True)
    assert "月次報告 2026年11月" in page and "集計：2026-11-20 15:00" in page


def test_a_supervisor_downloads_the_months_csv(month_app):
    client = month_app.test_client()
    login(client, "boss")
    response = client.get(f"/console/report.csv?month={MONTH}")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    assert "records-2026-11.csv" in response.headers["Content-Disposition"]
    assert response.data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"), newline="")))
    assert len(rows) == 61
    assert any(e.get("action") == "export" and e.get("who") == "boss" for e in audit_actions(month_app))


@pytest.mark.parametrize("path", ["/console/report", "/console/report.csv"])
def test_a_counsellor_is_refused(month_app, path):
    client = month_app.test_client()
    login(client, "sato")
    response = client.get(f"{path}?month={MONTH}")
    assert response.status_code == 403
    assert "相談種別" not in response.get_data(as_text=True) and b"\xef\xbb\xbf" not in response.data


@pytest.mark.parametrize("path", ["/console/report", "/console/report.csv"])
def test_someone_not_signed_in_is_sent_to_login(month_app, path):
    response = month_app.test_client().get(f"{path}?month={MONTH}")
    assert response.status_code in (302, 401)
    assert "/console/login" in response.headers.get("Location", "/console/login")


def test_a_malformed_month_is_a_400(month_app):
    client = month_app.test_client()
    login(client, "boss")
    assert client.get("/console/report?month=2026-13").status_code == 400
    assert client.get("/console/report.csv?month=nov").status_code == 400
    assert client.get("/console/report?month=２０２６-11").status_code == 400
    assert client.get("/console/report.csv?month=" + "9" * 5000).status_code == 400
