"""Tables for export, and the CSV and Excel (openpyxl) files made from them. Plain Python.

Case titles come from residents (the public intake form), so a cell may start with "=", "+", "-" or "@".
Spreadsheets would run that as a formula (CSV injection): CSV cells get a leading apostrophe, and Excel
cells are written as plain strings, never formulas.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Table:
    """A named table: ``columns`` are (key, zh, en); cells are str, int, float or None."""

    name: str
    title: tuple[str, str]
    columns: list[tuple[str, str, str]]
    rows: list[list[Any]] = field(default_factory=list)

    def headers(self, lang: str) -> list[str]:
        return [en if lang == "en" else zh for _k, zh, en in self.columns]

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "columns": [k for k, _zh, _en in self.columns], "rows": self.rows}

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def csv_bytes(table: Table, lang: str = "zh-CN") -> bytes:
    """UTF-8 with a byte-order mark, so Excel opens Chinese text correctly."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(table.headers(lang))
    for row in table.rows:
        w.writerow([csv_cell(v) for v in row])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def _sheet_title(title: str, used: set[str]) -> str:
    clean = "".join("_" if c in '[]:*?/\\' else c for c in title)[:31] or "sheet"
    name, i = clean, 2
    while name in used:
        name = f"{clean[:28]}-{i}"
        i += 1
    used.add(name)
    return name


def xlsx_bytes(tables: Sequence[Table], lang: str = "zh-CN", about: Sequence[tuple[str, Any]] = ()) -> bytes:
    """One sheet per table (plus an "about" sheet with ``about`` rows when given)."""
    from openpyxl import Workbook  # heavy: loaded on first use
    from openpyxl.styles import Font  # heavy: loaded on first use
    from openpyxl.utils import get_column_letter  # heavy: loaded on first use

    wb = Workbook()
    wb.remove(wb.active)
    used: set[str] = set()
    bold = Font(bold=True)
    if about:
        ws = wb.create_sheet(_sheet_title("About" if lang == "en" else "说明", used))
        for k, v in about:
            ws.append([_plain(k), _plain(v)])
            ws.cell(ws.max_row, 1).font = bold
        ws.column_dimensions["A"].width = 18
        ws.column_dimensions["B"].width = 60
        for row in ws.iter_rows():
            for cell in row:
                _force_text(cell)
    for t in tables:
        ws = wb.create_sheet(_sheet_title(t.title[1] if lang == "en" else t.title[0], used))
        ws.append(t.headers(lang))
        for cell in ws[1]:
            cell.font = bold
        for row in t.rows:
            ws.append([_plain(v) for v in row])
        for row in ws.iter_rows(min_row=2):
            for cell in row:
                _force_text(cell)
        for i, (_k, zh, en) in enumerate(t.columns, start=1):
            ws.column_dimensions[get_column_letter(i)].width = max(10, min(40, 2 * len(en if lang == "en" else zh) + 4))
        ws.freeze_panes = "A2"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _plain(v: Any) -> Any:
    return v  # None stays an empty cell


def _force_text(cell: Any) -> None:
    # openpyxl stores any str starting with "=" as a formula; make every str a plain string cell.
    if isinstance(cell.value, str):
        cell.data_type = "s"
