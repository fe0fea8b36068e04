"""The edge cases mixed into generated rows, per kind of type: the values application code and
migrations most often get wrong (empty and maximal strings, multi-byte, right-to-left and emoji
text, boundary numbers, the epoch, far past and future, daylight-saving transitions, infinities,
empty JSON and arrays). Raw values, as PostgreSQL reads them as text; COPY escaping comes later.
"""

from __future__ import annotations

INTEGER_RANGES = {"int2": (-(2**15), 2**15 - 1), "int4": (-(2**31), 2**31 - 1), "int8": (-(2**63), 2**63 - 1)}

TEXT = [
    "",
    " ",
    "Zoë Ünïcödé façade",
    "שלום עולם",
    "مرحبا بالعالم",
    "🙂🚀👩‍👩‍👧",
    "e\u0301\u0301",
    "tab\there\nnew line \\ backslash",
    'O\'Brien "quoted"',
    "Robert'); DROP TABLE students;--",
    "NULL",
]
DATE = ["1970-01-01", "1900-01-01", "0001-01-01", "9999-12-31", "2024-02-29", "2024-03-31", "2024-10-27", "infinity"]
TIMESTAMP = [
    "1970-01-01 00:00:00",
    "1900-01-01 00:00:00",
    "2999-12-31 23:59:59.999999",
    "2024-03-31 02:30:00",  # does not exist in central Europe
    "2024-11-03 01:30:00",  # happens twice in the United States
    "2024-02-29 12:00:00",
    "infinity",
    "-infinity",
]
TIMESTAMPTZ = [
    "1970-01-01 00:00:00+00",
    "1900-01-01 00:00:00+00",
    "2999-12-31 23:59:59.999999+00",
    "2024-03-10 02:30:00-05",
    "2024-11-03 01:30:00-04",
    "2024-11-03 01:30:00-05",
    "infinity",
    "-infinity",
]
TIME = ["00:00:00", "23:59:59.999999", "24:00:00"]
TIMETZ = ["00:00:00+00", "23:59:59-12", "12:00:00+14"]
INTERVAL = ["0", "-1 day", "100 years", "1 mon -1 day", "00:00:00.000001"]
JSON = ["{}", "[]", "null", '""', "0", "[[[[[[[[[[1]]]]]]]]]]", '{"k": "🙂 שלום"}', '{"a": "tab\\tand \\"quote\\""}']
UUID = ["00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff"]
BYTEA = ["\\x", "\\x00", "\\x" + "ff" * 1024]
INET = ["0.0.0.0", "255.255.255.255", "::1", "::ffff:1.2.3.4", "10.0.0.0/8"]
CIDR = ["0.0.0.0/0", "::/0", "255.255.255.255/32"]
MACADDR = ["00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff"]
FLOAT = ["0", "-0", "Infinity", "-Infinity", "NaN", "1e-300"]


def numbers(base: str, precision: int | None, scale: int | None) -> list[str]:
    """Boundary numbers for a numeric type: its extremes, zero, one and minus one, the smallest step."""
    if base in INTEGER_RANGES:
        low, high = INTEGER_RANGES[base]
        return [str(low), str(high), "0", "-1", "1"]
    if base == "float4":
        return FLOAT + ["3.4e38", "-3.4e38"]
    if base == "float8":
        return FLOAT + ["1.7976931348623157e308"]
    if precision is not None:
        digits, scale = precision - (scale or 0), scale or 0
        largest = "9" * digits if digits > 0 else "0"
        if scale:
            largest += "." + "9" * scale
        smallest = f"0.{'0' * (scale - 1)}1" if scale else "1"
        return [largest, "-" + largest, "0", smallest]
    return ["0", "123456789012345678901234567890.123456789", "-0.000001", "NaN"]
