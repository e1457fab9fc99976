"""A small SQLite tokenizer and the benign statement shapes of vulnshop's SQL endpoints.

The evaluation judges a payload by what SQLite actually ran (vulnshop's trace), with code
that shares nothing with the agent: the agent's lexer is Rust, this one follows SQLite's
own tokenizer (`tokenize.c`) closely enough to tell a value from structure. A parser such
as sqlglot was not used: most injected statements that SQLite accepts or rejects are not
valid in a generic grammar, and comparing token sequences needs no tree.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

# SQLite's keywords (https://www.sqlite.org/lang_keywords.html).
KEYWORDS = frozenset(
    """
    ABORT ACTION ADD AFTER ALL ALTER ALWAYS ANALYZE AND AS ASC ATTACH AUTOINCREMENT BEFORE
    BEGIN BETWEEN BY CASCADE CASE CAST CHECK COLLATE COLUMN COMMIT CONFLICT CONSTRAINT CREATE
    CROSS CURRENT CURRENT_DATE CURRENT_TIME CURRENT_TIMESTAMP DATABASE DEFAULT DEFERRABLE
    DEFERRED DELETE DESC DETACH DISTINCT DO DROP EACH ELSE END ESCAPE EXCEPT EXCLUDE EXCLUSIVE
    EXISTS EXPLAIN FAIL FILTER FIRST FOLLOWING FOR FOREIGN FROM FULL GENERATED GLOB GROUP
    GROUPS HAVING IF IGNORE IMMEDIATE IN INDEX INDEXED INITIALLY INNER INSERT INSTEAD
    INTERSECT INTO IS ISNULL JOIN KEY LAST LEFT LIKE LIMIT MATCH MATERIALIZED NATURAL NO NOT
    NOTHING NOTNULL NULL NULLS OF OFFSET ON OR ORDER OTHERS OUTER OVER PARTITION PLAN PRAGMA
    PRECEDING PRIMARY QUERY RAISE RANGE RECURSIVE REFERENCES REGEXP REINDEX RELEASE RENAME
    REPLACE RESTRICT RETURNING RIGHT ROLLBACK ROW ROWS SAVEPOINT SELECT SET TABLE TEMP
    TEMPORARY THEN TIES TO TRANSACTION TRIGGER UNBOUNDED UNION UNIQUE UPDATE USING VACUUM
    VALUES VIEW VIRTUAL WHEN WHERE WINDOW WITH WITHOUT
    """.split()
)

# Longest first, so that `->>` wins over `->` and `<=` over `<`.
OPERATORS = (
    "->>", "||", "<<", ">>", "<=", ">=", "==", "!=", "<>", "->",
    "=", "<", ">", "+", "-", "*", "/", "%", "&", "|", "~", "(", ")", ",", ";", ".",
)


@dataclass(frozen=True)
class Token:
    """One token: its kind and its text."""

    kind: str  # keyword, name, quoted, string, number, blob, variable, comment, op, illegal
    text: str
    terminated: bool = True


def _is_id(ch: str) -> bool:
    return ch.isascii() and (ch.isalnum() or ch in "_$") or not ch.isascii()


def tokenize(sql: str) -> list[Token]:
    """The tokens of `sql` as SQLite reads them; whitespace is dropped, and a NUL ends the
    text as it does for SQLite's C interface."""
    cut = sql.find("\0")
    if cut >= 0:
        sql = sql[:cut]
    tokens: list[Token] = []
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch in " \t\n\f\r":
            i += 1
            continue
        if sql.startswith("--", i):
            end = sql.find("\n", i)
            end = n if end < 0 else end
            tokens.append(Token("comment", sql[i:end]))
            i = end
            continue
        if sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            if end < 0:
                tokens.append(Token("comment", sql[i:], terminated=False))
                i = n
            else:
                tokens.append(Token("comment", sql[i:end + 2]))
                i = end + 2
            continue
        if ch in "'\"`":
            j, closed = i + 1, False
            while j < n:
                if sql[j] == ch:
                    if j + 1 < n and sql[j + 1] == ch:
                        j += 2
                        continue
                    closed = True
                    j += 1
                    break
                j += 1
            kind = "string" if ch == "'" else "quoted"
            tokens.append(Token(kind, sql[i:j], terminated=closed))
            i = j
            continue
        if ch == "[":
            end = sql.find("]", i)
            if end < 0:
                tokens.append(Token("quoted", sql[i:], terminated=False))
                i = n
            else:
                tokens.append(Token("quoted", sql[i:end + 1]))
                i = end + 1
            continue
        if ch in "xX" and i + 1 < n and sql[i + 1] == "'":
            end = sql.find("'", i + 2)
            if end < 0:
                tokens.append(Token("blob", sql[i:], terminated=False))
                i = n
            else:
                tokens.append(Token("blob", sql[i:end + 1]))
                i = end + 1
            continue
        if ch.isascii() and ch.isdigit() or (ch == "." and i + 1 < n and sql[i + 1].isdigit()):
            m = _NUMBER.match(sql, i)
            j = m.end() if m else i + 1
            if j < n and _is_id(sql[j]):
                # SQLite rejects a number glued to a name (`1abc`) as one illegal token.
                while j < n and _is_id(sql[j]):
                    j += 1
                tokens.append(Token("illegal", sql[i:j]))
            else:
                tokens.append(Token("number", sql[i:j]))
            i = j
            continue
        if ch == "?":
            j = i + 1
            while j < n and sql[j].isdigit():
                j += 1
            tokens.append(Token("variable", sql[i:j]))
            i = j
            continue
        if ch in "$@:#" and i + 1 < n and _is_id(sql[i + 1]):
            j = i + 1
            while j < n and _is_id(sql[j]):
                j += 1
            tokens.append(Token("variable", sql[i:j]))
            i = j
            continue
        if _is_id(ch) and ch != "$":
            j = i + 1
            while j < n and _is_id(sql[j]):
                j += 1
            word = sql[i:j]
            kind = "keyword" if word.upper() in KEYWORDS else "name"
            tokens.append(Token(kind, word))
            i = j
            continue
        for op in OPERATORS:
            if sql.startswith(op, i):
                tokens.append(Token("op", op))
                i += len(op)
                break
        else:
            tokens.append(Token("illegal", ch))
            i += 1
    return tokens


_NUMBER = re.compile(
    r"0[xX][0-9a-fA-F](?:_?[0-9a-fA-F])*"
    r"|(?:\d(?:_?\d)*(?:\.(?:\d(?:_?\d)*)?)?|\.\d(?:_?\d)*)(?:[eE][+-]?\d(?:_?\d)*)?"
)

VALUE = "V"


# Every column of vulnshop's tables, and SQLite's names for the row id.
COLUMNS = frozenset(
    "id name category price username password product_id author body token user_id "
    "rowid oid _rowid_".split()
)


# Keywords that are literal values in SQLite's grammar.
LITERAL_KEYWORDS = frozenset({"NULL", "CURRENT_DATE", "CURRENT_TIME", "CURRENT_TIMESTAMP"})


def _is_column(token: Token) -> bool:
    return token.text[1:-1].replace('""', '"').lower() in COLUMNS


def normalise(tokens: list[Token]) -> list[str]:
    """The structure of a token sequence: every value (string, number, blob, a sign glued
    to a number) is `V`; names and keywords compare without case; an unterminated literal
    or comment keeps its own mark."""
    out: list[str] = []
    for token in tokens:
        if not token.terminated:
            out.append(f"unterminated {token.kind}")
        elif token.kind in ("string", "number", "blob"):
            # A sign after an operator (not `)`), a keyword, or nothing belongs to the
            # number: `id = -1` has the structure of `id = 1`.
            if (
                token.kind == "number"
                and out
                and out[-1] in ("op:-", "op:+")
                and (len(out) == 1 or (out[-2].startswith(("op:", "keyword:")) and out[-2] != "op:)"))
            ):
                out.pop()
            out.append(VALUE)
        elif token.kind == "quoted" and token.text.startswith('"') and not _is_column(token):
            # SQLite reads a double-quoted name that names no column as a string literal.
            out.append(VALUE)
        elif token.kind == "keyword" and token.text.upper() in LITERAL_KEYWORDS:
            out.append(VALUE)
        elif token.kind == "name" and token.text.upper() in ("TRUE", "FALSE"):
            # Names of no column, which SQLite reads as 1 and 0.
            out.append(VALUE)
        elif token.kind in ("keyword", "name"):
            out.append(f"{token.kind}:{token.text.upper()}")
        elif token.kind == "comment":
            out.append("comment")
        else:
            out.append(f"{token.kind}:{token.text}")
    return out


def shape(sql: str) -> list[str]:
    """`normalise(tokenize(sql))`."""
    return normalise(tokenize(sql))


def statements(sql: str) -> list[list[Token]]:
    """The statements of `sql`, split at `;`, without empty ones (comments alone count as
    empty)."""
    result: list[list[Token]] = []
    current: list[Token] = []
    for token in tokenize(sql):
        if token.kind == "op" and token.text == ";":
            result.append(current)
            current = []
        else:
            current.append(token)
    result.append(current)
    return [s for s in result if any(t.kind != "comment" for t in s)]


def changes_data(sql: str) -> bool:
    """Whether running `sql` may have changed the database: a statement that is not a
    query (`SELECT`, `VALUES`, `EXPLAIN`), stacked or not."""
    for part in statements(sql):
        first = next(t for t in part if t.kind != "comment")
        if not (first.kind == "keyword" and first.text.upper() in ("SELECT", "VALUES", "EXPLAIN")):
            return True
    return False


# The benign statements of the vulnerable endpoints, each with the place of the input
# written as `{}`.
TEMPLATES = {
    "/products": "SELECT id, name, category, price FROM products WHERE category = '{}'",
    "/product": "SELECT id, name, category, price FROM products WHERE id = {}",
    "/products/sorted": "SELECT id, name, category, price FROM products ORDER BY {}",
    "/login": "SELECT id, username FROM users WHERE username = '{}' AND password = '{}'",
    "/reviews/author-stats": "SELECT COUNT(*) FROM reviews WHERE author = '{}'",
}

# Statements the application runs on its own (bound parameters), never the vulnerable one.
FIXED_STATEMENTS = frozenset(
    {
        "INSERT INTO sessions (token, user_id) VALUES (?, ?)",
        "SELECT author FROM reviews WHERE id = ?",
        "INSERT INTO reviews (product_id, author, body) VALUES (?, ?, ?)",
        "SELECT id, author, body FROM reviews WHERE product_id = ? ORDER BY id",
    }
)

# An honest value for each place of input.
BENIGN_VALUES = {
    "/products": ("books",),
    "/product": ("1",),
    "/products/sorted": ("id",),
    "/login": ("alice", "wonderland"),
    "/reviews/author-stats": ("alice",),
}
_BENIGN = {endpoint: shape(TEMPLATES[endpoint].format(*values))
           for endpoint, values in BENIGN_VALUES.items()}
_SORT_PREFIX = shape(TEMPLATES["/products/sorted"].format(""))
_DIRECTIONS = ("keyword:ASC", "keyword:DESC")


def _plain_order_list(rest: list[str]) -> bool:
    """Whether `rest` is a list of sort terms an honest client sends: a column (or its
    number), optionally `ASC`/`DESC` and `NULLS FIRST`/`NULLS LAST`, comma separated."""
    terms: list[list[str]] = [[]]
    for item in rest:
        if item == "op:,":
            terms.append([])
        else:
            terms[-1].append(item)
    for term in terms:
        # A column, maybe quoted or qualified (`products.price`), or a value.
        length = 0
        if term and term[0] == VALUE:
            length = 1
        else:
            while length < len(term) and term[length].startswith(("name:", "quoted:")):
                length += 1
                if length + 1 < len(term) and term[length] == "op:.":
                    length += 1
                else:
                    break
            if length == 0 or not term[length - 1].startswith(("name:", "quoted:")):
                return False
        tail = term[length:]
        if tail and tail[0] in _DIRECTIONS:
            tail = tail[1:]
        if tail in (["keyword:NULLS", "keyword:FIRST"], ["keyword:NULLS", "keyword:LAST"]):
            tail = []
        if tail:
            return False
    return True


def _matches(endpoint: str, got: list[str]) -> bool:
    if endpoint == "/products/sorted":
        head = len(_SORT_PREFIX)
        return got[:head] == _SORT_PREFIX and _plain_order_list(got[head:])
    return got == _BENIGN[endpoint]


def benign_shape(endpoint: str, sql: str) -> bool:
    """Whether `sql`, run by `endpoint`, has the token structure of that endpoint's benign
    statement (only values differ)."""
    return _matches(endpoint, shape(sql))


def same_meaning(endpoint: str, sql: str) -> bool:
    """Whether `sql` differs from a benign statement of `endpoint` only by comments and a
    final `;`: SQLite runs the same statement (`books'--` closes the literal, then comments
    out the closing quote)."""
    got = [item for item in shape(sql) if item != "comment"]
    while got and got[-1] == "op:;":
        got.pop()
    return _matches(endpoint, got)


EFFECTIVE = "effective"
FAILED = "failed"
COSMETIC = "cosmetic"
NO_EFFECT = "none"
NOT_RUN = "not run"


def effect(endpoint: str, sql: str | None, ok: bool) -> str:
    """What an input did to the statement `endpoint` ran:

    - `none`: it stayed a value (whether SQLite then ran the statement or not);
    - `failed`: it changed the structure and SQLite rejected the statement;
    - `cosmetic`: it broke out, but added only comments or a final `;`;
    - `effective`: it changed the structure of a statement SQLite ran;
    - `not run`: no statement was run."""
    if sql is None:
        return NOT_RUN
    if benign_shape(endpoint, sql):
        return NO_EFFECT
    if not ok:
        return FAILED
    if same_meaning(endpoint, sql):
        return COSMETIC
    return EFFECTIVE


# Endpoints whose input stands inside a quoted literal.
QUOTED = frozenset({"/products", "/login", "/reviews/author-stats"})

# Keywords that SQLite also calls as functions.
FUNCTION_KEYWORDS = frozenset({"LIKE", "GLOB", "REPLACE", "MATCH", "REGEXP", "CAST", "RAISE"})


def added(endpoint: str, payload: str) -> str:
    """What `payload` added where `endpoint` pastes it, in a few words, the most telling
    first: its tokens as they stand in the statement (inside the literal's quotes where the
    endpoint quotes it), beyond the one value an honest input is."""
    fragment = f"'{payload}'" if endpoint in QUOTED else payload
    tokens = tokenize(fragment)
    found: Counter[str] = Counter()
    for index, token in enumerate(tokens):
        text = token.text.upper()
        if token.kind == "keyword":
            found[text] += 1
        elif token.kind in ("op", "comment", "name", "quoted"):
            found[token.kind] += 1
        if not token.terminated:
            found["unterminated"] += 1
        calls = token.kind == "name" or (token.kind == "keyword" and text in FUNCTION_KEYWORDS)
        if calls and index + 1 < len(tokens) and tokens[index + 1].text == "(":
            found["call"] += 1
    if len(statements(fragment)) > 1:
        return "stacked statement"
    if found["UNION"]:
        return "UNION"
    if found["SELECT"]:
        return "subquery"
    if found["call"]:
        return "function call"
    if any(found[k] for k in ("OR", "AND", "LIKE", "GLOB", "BETWEEN", "IN", "IS", "NOT",
                              "REGEXP", "MATCH")):
        return "boolean condition"
    if found["CASE"]:
        return "CASE expression"
    if any(found[k] for k in ("ORDER", "GROUP", "HAVING", "LIMIT", "OFFSET", "COLLATE",
                              "WHERE")):
        return "clause"
    if found["comment"]:
        return "comment"
    if any(k in KEYWORDS for k in found):
        return "keyword"
    if found["op"]:
        return "operator"
    if found["name"] or found["quoted"]:
        return "column name"
    if found["unterminated"]:
        return "unterminated literal"
    return "other token"
