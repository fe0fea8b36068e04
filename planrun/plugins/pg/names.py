"""What a table is called, in one form everywhere: PostgreSQL's own ``quote_ident`` of the
schema, a dot, ``quote_ident`` of the name (``public.users``, ``public."Accounts"``,
``"odd.schema"."tab.le"``). The form is SQL (it can be pasted into a statement as it is) and
unambiguous (a dot or a comma inside a name stays inside its quotes), so a name is never split on
a dot or a comma; the catalog builds it (:func:`qualified`), and Python only takes it apart
with the quoting rules (:func:`parts`). Plain names read as they always did."""

from __future__ import annotations


def qualified(schema: str, name: str) -> str:
    """The SQL expression that builds a table's key from two catalog columns."""
    return f"quote_ident({schema}) || '.' || quote_ident({name})"


def parts(key: str) -> tuple[str, str]:
    """``"odd.schema"."tab.le"`` -> ``("odd.schema", "tab.le")``; ``public.users`` ->
    ``("public", "users")``. Quoted parts keep their case and their dots; ``""`` is a quote."""
    found, current, quoted, index = [], [], False, 0
    while index < len(key):
        char = key[index]
        if quoted:
            if char == '"' and key[index + 1 : index + 2] == '"':
                current.append('"')
                index += 1
            elif char == '"':
                quoted = False
            else:
                current.append(char)
        elif char == '"':
            quoted = True
        elif char == "." and len(found) == 0:
            found.append("".join(current))
            current = []
        else:
            current.append(char)
        index += 1
    found.append("".join(current))
    if len(found) == 1:
        return "public", found[0]
    return found[0], found[1]


def identifier(name: str) -> str:
    """One name as SQL, always quoted. Not psycopg2's ``quote_ident``: on a LATIN1 or SQL_ASCII
    connection it returns the name's UTF-8 bytes read as Latin-1 (``"TÃ¤"`` for ``Tä``), a
    table that does not exist."""
    return '"' + name.replace('"', '""') + '"'


def quoted(key: str) -> str:
    """The table with each part double-quoted: SQL that names it whatever form the key came in
    (an older manifest's plain ``schema.name`` too), and a pg_dump ``--exclude-table-data``
    pattern that matches it alone (no wildcard, no case folding)."""
    return ".".join(identifier(part) for part in parts(key))
