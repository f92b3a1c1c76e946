"""Tests for ``fnnlab.report``: a self-contained HTML page with embedded figures."""

import base64
import re

import pandas as pd
import pytest
import torch
from matplotlib.figure import Figure

from fnnlab.report import Report, model_graph_png


def _figure() -> Figure:
    fig = Figure(figsize=(3, 2))
    ax = fig.add_subplot()
    ax.plot([0, 1], [1, 0])
    ax.set_title("a line")
    return fig


def test_report_embeds_figures_as_png_and_loads_nothing_external(tmp_path):
    report = Report("Test report", intro="First paragraph.\n\nSecond paragraph.")
    report.add_section("Results", "Some text.")
    report.add_figure(_figure(), caption="A falling line.")
    report.add_table(pd.DataFrame({"method": ["snn", "msra"], "accuracy": [0.91234, 0.9]}))
    path = report.write(tmp_path / "out")
    page = path.read_text()
    assert path == tmp_path / "out" / "index.html"
    sources = re.findall(r'src="([^"]*)"', page)
    assert sources and all(s.startswith("data:image/png;base64,") for s in sources)
    png = base64.b64decode(sources[0].split(",", 1)[1])
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert all(h.startswith("#") for h in re.findall(r'href="([^"]*)"', page))
    assert "<link" not in page and "<script" not in page
    assert page.count("<p>") >= 3 and "A falling line." in page
    assert "0.9123" in page and "alt=\"a line\"" in page


def test_report_escapes_text_and_table_cells():
    report = Report("<b>title</b>")
    report.add_section("S")
    report.add_text("x < y & <script>alert(1)</script>")
    report.add_table(pd.DataFrame({"name": ["<img src=x>"]}))
    page = report.to_html()
    assert "<script>" not in page and "<img src=x>" not in page
    assert "&lt;script&gt;" in page and "&lt;b&gt;title&lt;/b&gt;" in page


def test_sections_get_unique_anchors_and_a_table_of_contents():
    report = Report("R")
    a = report.add_section("Claim 1: SELU")
    b = report.add_section("Claim 1: SELU")
    c = report.add_section("Other", anchor="claim-7")
    assert (a.anchor, b.anchor, c.anchor) == ("claim-1-selu", "claim-1-selu-2", "claim-7")
    page = report.to_html()
    assert '<a href="#claim-7">Other</a>' in page
    assert page.index("Contents") < page.index('id="claim-1-selu"')
    report.toc = False
    assert "Contents" not in report.to_html()


def test_long_tables_are_cut_with_a_note():
    report = Report("R")
    report.add_table(pd.DataFrame({"i": range(250)}), max_rows=100)
    page = report.to_html()
    assert "150 more rows not shown" in page and page.count("<tr") == 101


def test_bad_arguments_raise_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="title must be a non-empty string"):
        Report("  ")
    report = Report("R")
    with pytest.raises(TypeError, match="expects a matplotlib Figure"):
        report.add_figure("not a figure")
    with pytest.raises(ValueError, match="bytes of a PNG"):
        report.add_image(b"GIF89a...")
    with pytest.raises(TypeError, match="expects a pandas DataFrame"):
        report.add_table([[1, 2]])
    with pytest.raises(ValueError, match="level must be 2 or 3"):
        report.add_section("x", level=4)
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ValueError, match="is not a folder"):
        report.write(blocker)


def test_model_graph_is_png_or_none_when_graphviz_is_missing():
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1))
    png = model_graph_png(model, torch.randn(2, 3))
    assert png is None or png.startswith(b"\x89PNG")
