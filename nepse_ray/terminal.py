"""Text from the site made safe to print on a terminal: control characters shown as escapes, never obeyed.

A symbol, a name or an error message may carry what the server put in it. Printed as it is, ``ESC [2J`` clears
the user's screen, ``ESC ] 0;...`` retitles the window, ``ESC ] 8`` plants a hyperlink, ``\\r`` hides what came
before on the line and a right-to-left override reorders it. Every place the ``nepse-ray`` command prints such
text passes it through :func:`printable`, which writes each such character as its ``\\uXXXX`` escape: C0 and C1
control characters, DEL and the Unicode bidirectional controls. The escapes are also valid JSON string escapes,
so a JSON document stays valid and decodes to the same text.

>>> printable("NABIL\\x1b[2J\\u202e\\x9b31m")
'NABIL\\\\u001b[2J\\\\u202e\\\\u009b31m'
>>> printable("two\\nlines"), printable("two\\nlines", newlines=False)
('two\\nlines', 'two\\\\u000alines')
"""

from __future__ import annotations

import re

_CONTROLS = "\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_UNSAFE = re.compile(f"[{_CONTROLS}]")
_UNSAFE_OR_NEWLINE = re.compile(f"[{_CONTROLS}\n]")


def printable(text: str, *, newlines: bool = True) -> str:
    """``text`` with every control character as ``\\uXXXX``; line breaks kept unless ``newlines=False``."""
    pattern = _UNSAFE if newlines else _UNSAFE_OR_NEWLINE
    return pattern.sub(lambda match: f"\\u{ord(match.group()):04x}", text)
