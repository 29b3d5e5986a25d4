"""Render a `Report` (from `report.aggregate`) as a text table, CSV, JSON or one HTML page.

`RENDERERS` maps each `visit-gateway report --format` to its function. The HTML page is
self-contained (inline CSS and SVG charts from `bar_chart`, no scripts, no external fetches).
Pure: no I/O; it must not compute statistics (`gateway.report.aggregate` does).
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import json
import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from gateway.report.aggregate import LabelStats, PersonStats, Report, WeekStats

# ---- Renderers -----------------------------------------------------------------------------

WEEK_COLUMNS = ("week", "primary", "backup", "arrived", "first_responses", "within_goal",
                "median_hours", "p90_hours", "resolved", "handed_off", "open_at_end",
                "closed_stale", "promoted", "promotions", "attachments_stored",
                "attachments_published")
PERSON_COLUMNS = ("login", "name", "fraction", "primary_weeks", "backup_weeks",
                  "expected_weeks", "inquiries", "responses", "median_hours", "effort_hours")
LABEL_COLUMNS = ("label", "count", "median_hours", "within_goal")


def _week_values(w: WeekStats) -> tuple[Any, ...]:
    return (w.start.isoformat(), w.primary or "", w.backup or "", w.arrived, w.responded,
            w.within_goal, w.median_hours, w.p90_hours, w.resolved, w.handed_off, w.open_at_end,
            w.stale_closed, w.promoted, " ".join(w.promotions), w.attachments_stored,
            w.attachments_published)


def _person_values(p: PersonStats) -> tuple[Any, ...]:
    return (p.login, p.name, p.fraction, p.primary_weeks, p.backup_weeks,
            round(p.expected_weeks, 2), p.inquiries, p.responses, p.median_hours,
            round(p.effort_hours, 2))


def _label_values(lab: LabelStats) -> tuple[Any, ...]:
    return (lab.label, lab.count, lab.median_hours, lab.within_goal)


def _hours(x: float | None) -> str:
    return "-" if x is None else f"{x:.1f}"


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.0%}"


def _title(report: Report) -> str:
    last = report.end_day - dt.timedelta(days=1)
    return (f"Response report, {len(report.weeks)} rotation weeks "
            f"{report.first_day} to {last}")


def _text_tables(report: Report) -> list[tuple[str, list[str], list[list[str]]]]:
    weeks = [[w.start.isoformat(), w.primary_name or w.primary or "nobody", str(w.arrived),
              str(w.responded), _pct(w.within_goal), _hours(w.median_hours), _hours(w.p90_hours),
              str(w.resolved), str(w.handed_off), str(w.open_at_end), str(w.stale_closed),
              str(w.promoted), str(w.attachments_stored), str(w.attachments_published)]
             for w in report.weeks]
    people = [[p.name, "-" if p.fraction is None else f"{p.fraction:.2f}",
               str(p.primary_weeks), str(p.backup_weeks), f"{p.expected_weeks:.1f}",
               str(p.inquiries), str(p.responses), _hours(p.median_hours),
               f"{p.effort_hours:.1f}"] for p in report.people]
    labels = [[lab.label, str(lab.count), _hours(lab.median_hours), _pct(lab.within_goal)]
              for lab in report.labels]
    goal = f"{report.goal_hours:g}h"
    return [
        ("Per rotation week", ["Week", "Primary", "Arrived", "Answered", f"In {goal}",
                               "Median h", "P90 h", "Resolved", "Handed off", "Open at end",
                               "Closed stale", "Promoted", "Files stored", "Published"],
         weeks),
        ("Per person", ["Person", "Fraction", "Primary wk", "Backup wk", "Expected wk",
                        "Inquiries", "Answered 1st", "Median h", "Effort h"], people),
        ("By label", ["Label", "Inquiries", "Median h", f"In {goal}"], labels),
    ]


def render_table(report: Report) -> str:
    """Plain-text tables for a terminal."""
    t = report.totals
    lines = [_title(report) + f" ({report.timezone})",
             f"{t['arrived']} inquiries, {t['responded']} answered, "
             f"{_pct(t['within_goal'])} within the {report.goal_hours:g}-business-hour goal, "
             f"median {_hours(t['median_hours'])} h, p90 {_hours(t['p90_hours'])} h "
             "(business hours; p90 is nearest-rank)"]
    for title, header, rows in _text_tables(report):
        lines += ["", title + ":"]
        table = [header, *rows]
        widths = [max(len(r[i]) for r in table) for i in range(len(header))]
        for row in table:
            cells = [c.ljust(w) if i == 0 or (i == 1 and title != "By label") else c.rjust(w)
                     for i, (c, w) in enumerate(zip(row, widths, strict=True))]
            lines.append("  " + "  ".join(cells).rstrip())
    return "\n".join(lines) + "\n"


def render_csv(report: Report) -> str:
    """Three CSV tables (weeks, people, labels), each with its header row, separated by one
    empty line. Shares are 0..1, hours are business hours; empty cells mean no data."""
    blocks = []
    for columns, rows in ((WEEK_COLUMNS, [_week_values(w) for w in report.weeks]),
                          (PERSON_COLUMNS, [_person_values(p) for p in report.people]),
                          (LABEL_COLUMNS, [_label_values(lab) for lab in report.labels])):
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([["" if v is None else v for v in row] for row in rows])
        blocks.append(buf.getvalue())
    return "\n".join(blocks)


def report_dict(report: Report) -> dict[str, Any]:
    """The report as JSON-ready values (dates as ISO strings)."""
    def rows(columns: Sequence[str], values: Iterable[tuple[Any, ...]]) -> list[dict[str, Any]]:
        return [dict(zip(columns, v, strict=True)) for v in values]

    return {
        "first_day": report.first_day.isoformat(),
        "end_day": report.end_day.isoformat(),
        "timezone": report.timezone,
        "goal_hours": report.goal_hours,
        "percentile_method": "nearest-rank",
        "totals": dict(report.totals),
        "weeks": rows(WEEK_COLUMNS, (_week_values(w) for w in report.weeks)),
        "people": rows(PERSON_COLUMNS, (_person_values(p) for p in report.people)),
        "labels": rows(LABEL_COLUMNS, (_label_values(lab) for lab in report.labels)),
    }


def render_json(report: Report) -> str:
    return json.dumps(report_dict(report), indent=2) + "\n"


# ---- HTML ----------------------------------------------------------------------------------

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px auto;
max-width:1100px;color:#1f2933;background:#fff;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
.sub{color:#52606d;margin:0 0 16px}
.cards{display:flex;gap:12px;flex-wrap:wrap;margin:12px 0}
.card{border:1px solid #d9e2ec;border-radius:8px;padding:10px 14px;min-width:120px}
.card b{display:block;font-size:22px}.card span{color:#52606d;font-size:12px}
.charts{display:flex;gap:16px;flex-wrap:wrap}
figure{margin:0;border:1px solid #d9e2ec;border-radius:8px;padding:8px}
figcaption{font-size:13px;color:#52606d;margin:0 0 4px 4px}
table{border-collapse:collapse;font-size:13px;margin:4px 0 8px}
th,td{padding:4px 10px;border-bottom:1px solid #e4e7eb;text-align:right}
th{background:#f5f7fa;font-weight:600}
td:first-child,th:first-child{text-align:left}
table.weeks td:nth-child(2),table.weeks th:nth-child(2){text-align:left}
tr.miss td.goal{color:#b42318;font-weight:600}
.note{font-size:12px;color:#52606d}
"""

_BLUE, _ORANGE, _GREY, _GREEN, _RED = "#2f6fdb", "#f08c2e", "#9aa5b1", "#3a9d5d", "#d64545"


def axis_ticks(value: float) -> list[float]:
    """Gridline values from 0 up to at least `value`: 3 to 6 steps of 1, 2, 2.5 or 5 times a
    power of ten (so 0, 0.5, 1, 1.5, 2, 2.5, never 0.625)."""
    if value <= 0:
        return [0.0, 0.25, 0.5, 0.75, 1.0]
    raw = value / 5
    exp = 10.0 ** math.floor(math.log10(raw))
    step = next(s * exp for s in (1.0, 2.0, 2.5, 5.0, 10.0) if raw <= s * exp * (1 + 1e-9))
    count = max(3, math.ceil(value / step - 1e-9))
    return [float(f"{step * k:.12g}") for k in range(count + 1)]  # no 0.30000000000000004


# Rotated (-30 degrees) category labels reach left of their anchor by about this much per
# character: cos(30) times the width of an 11 px character.
_LABEL_REACH = 0.87 * 6.2


def bar_chart(categories: Sequence[str], series: Sequence[tuple[str, str, Sequence[float | None]]],
              *, title: str, unit: str, goal: float | None = None, width: int = 520,
              height: int = 260) -> str:
    """An inline SVG grouped bar chart; `series` is (name, colour, values per category).
    `goal` draws a dashed horizontal line."""
    left, right, top, bottom = 44, 12, 28, 76
    n = max(1, len(categories))
    if categories:  # room for the first rotated label, which hangs left of its bar
        half_group = (width - left - right) / n / 2
        left = max(left, math.ceil(_LABEL_REACH * len(categories[0]) - half_group) + 4)
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for _n, _c, vs in series for v in vs if v is not None]
    ticks = axis_ticks(max([*values, goal or 0.0, 0.0]) * 1.08)
    top_value = ticks[-1]

    def y(v: float) -> float:
        return top + plot_h - v / top_value * plot_h

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="{html.escape(title)}" '
           'font-family="system-ui,sans-serif" font-size="11">']
    for v in ticks:
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{y(v):.1f}" y2="{y(v):.1f}" '
                   f'stroke="#e4e7eb"/><text x="{left - 6}" y="{y(v) + 4:.1f}" '
                   f'text-anchor="end" fill="#52606d">{v:g}</text>')
    out.append(f'<text x="{left}" y="14" fill="#52606d">{html.escape(unit)}</text>')
    group_w = plot_w / n
    bar_w = min(28.0, group_w * 0.8 / max(1, len(series)))
    for i, cat in enumerate(categories):
        x0 = left + i * group_w + (group_w - bar_w * len(series)) / 2
        for j, (name, colour, vs) in enumerate(series):
            value = vs[i]
            if value is None:
                continue
            v = value
            x = x0 + j * bar_w
            out.append(f'<rect x="{x:.1f}" y="{y(v):.1f}" width="{bar_w - 2:.1f}" '
                       f'height="{max(0.0, plot_h + top - y(v)):.1f}" fill="{colour}">'
                       f'<title>{html.escape(cat)} {html.escape(name)}: {v:.1f}</title></rect>')
            if bar_w >= 14:
                out.append(f'<text x="{x + (bar_w - 2) / 2:.1f}" y="{y(v) - 3:.1f}" '
                           f'text-anchor="middle" font-size="9" fill="#323f4b">{v:.1f}</text>')
        cx = left + (i + 0.5) * group_w
        out.append(f'<text x="{cx:.1f}" y="{top + plot_h + 14}" text-anchor="end" '
                   f'transform="rotate(-30 {cx:.1f} {top + plot_h + 14})" '
                   f'fill="#323f4b">{html.escape(cat)}</text>')
    out.append(f'<line x1="{left}" x2="{width - right}" y1="{top + plot_h}" '
               f'y2="{top + plot_h}" stroke="#9aa5b1"/>')
    if goal is not None:
        out.append(f'<line class="goal" x1="{left}" x2="{width - right}" y1="{y(goal):.1f}" '
                   f'y2="{y(goal):.1f}" stroke="{_RED}" stroke-width="1.5" '
                   'stroke-dasharray="6 4"/>'
                   f'<text x="{width - right}" y="{y(goal) - 4:.1f}" text-anchor="end" '
                   f'fill="{_RED}">goal {goal:g} h</text>')
    lx = left + 24 + int(6.5 * len(unit))
    for name, colour, _vs in series:
        out.append(f'<rect x="{lx}" y="5" width="10" height="10" fill="{colour}"/>'
                   f'<text x="{lx + 14}" y="14" fill="#323f4b">{html.escape(name)}</text>')
        lx += 24 + 7 * len(name)
    out.append("</svg>")
    return "".join(out)


def render_html(report: Report) -> str:
    """One self-contained HTML page: summary cards, SVG charts and the tables."""
    e = html.escape
    t = report.totals
    weeks = [w.start.strftime("%m-%d") + (f" {w.primary}" if w.primary else "")
             for w in report.weeks]
    response_chart = bar_chart(
        weeks, [("median", _BLUE, [w.median_hours for w in report.weeks]),
                ("p90", _ORANGE, [w.p90_hours for w in report.weeks])],
        title="First response per week", unit="business hours", goal=report.goal_hours,
        width=max(520, 70 * len(weeks)))
    roster = [p for p in report.people if p.fraction is not None or p.inquiries]
    names = [p.name.split()[0] if p.fraction is not None else p.login for p in roster]
    load_chart = bar_chart(
        names, [("weeks served", _BLUE, [float(p.primary_weeks) for p in roster]),
                ("expected", _GREY, [p.expected_weeks for p in roster])],
        title="Primary weeks served vs expected", unit="weeks as Primary")
    inquiry_chart = bar_chart(
        names, [("inquiries", _GREEN, [float(p.inquiries) for p in roster]),
                ("effort h", _ORANGE, [p.effort_hours for p in roster])],
        title="Inquiries handled and effort", unit="inquiries / hours")
    cards = [(str(t["arrived"]), "inquiries"), (str(t["responded"]), "answered"),
             (_pct(t["within_goal"]), f"within {report.goal_hours:g} business hours"),
             (_hours(t["median_hours"]) + " h", "median first response"),
             (_hours(t["p90_hours"]) + " h", "90th percentile")]
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{e(_title(report))}</title><style>{_CSS}</style></head><body>",
        f"<h1>{e(_title(report))}</h1>",
        f'<p class="sub">Times in business hours ({e(report.timezone)}); goal: first response '
        f"within {report.goal_hours:g} business hours. p90 is the nearest-rank 90th "
        "percentile.</p>",
        '<div class="cards">' + "".join(f"<div class=\"card\"><b>{e(v)}</b><span>{e(k)}</span>"
                                        "</div>" for v, k in cards) + "</div>",
        "<h2>Response time</h2>",
        f"<figure><figcaption>Median and p90 first response per rotation week (Primary "
        f"login), dashed line: the goal</figcaption>{response_chart}</figure>",
        "<h2>Load per person</h2>",
        '<div class="charts">'
        f"<figure><figcaption>Weeks as Primary, served vs expected by fraction</figcaption>"
        f"{load_chart}</figure>"
        f"<figure><figcaption>Inquiries assigned and /spend effort (hours)</figcaption>"
        f"{inquiry_chart}</figure></div>",
    ]
    for (title, header, rows), goal_col in zip(_text_tables(report), (4, None, 3), strict=True):
        css = ' class="weeks"' if goal_col == 4 else ""
        parts.append(f"<h2>{e(title)}</h2><table{css}><thead><tr>"
                     + "".join(f"<th>{e(h)}</th>" for h in header) + "</tr></thead><tbody>")
        for row in rows:
            miss = goal_col is not None and row[goal_col] not in ("-", "100%")
            parts.append(f'<tr{" class=miss" if miss else ""}>' + "".join(
                f'<td{" class=goal" if i == goal_col else ""}>{e(c)}</td>'
                for i, c in enumerate(row)) + "</tr>")
        parts.append("</tbody></table>")
    parts.append('<p class="note">Inquiries count in the rotation week of their first business '
                 "opening. Share within goal counts answered inquiries and unanswered ones past "
                 "their goal. Generated by <code>visit-gateway report</code>.</p></body></html>")
    return "\n".join(parts) + "\n"


RENDERERS: dict[str, Callable[[Report], str]] = {
    "table": render_table, "csv": render_csv, "json": render_json, "html": render_html,
}


__all__ = ["LABEL_COLUMNS", "PERSON_COLUMNS", "RENDERERS", "WEEK_COLUMNS", "bar_chart",
           "render_csv", "render_html", "render_json", "render_table", "report_dict"]
