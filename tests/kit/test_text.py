"""Text fields refuse NUL and control characters; notes may span lines."""

from __future__ import annotations

import pytest

from services.kit.text import multi_line, single_line


def test_text_fields_refuse_control_characters() -> None:
    assert single_line("荣昌夏布") == "荣昌夏布"
    assert multi_line("line one\nline two\tend") == "line one\nline two\tend"
    for bad in ("a\x00b", "a\x1bb", "a\x7f"):
        with pytest.raises(ValueError):
            single_line(bad)
        with pytest.raises(ValueError):
            multi_line(bad)
    with pytest.raises(ValueError):
        single_line("two\nlines")
