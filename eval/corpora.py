"""The attack and benign inputs: public corpora read where they are kept (never copied),
Debian's word list and fortunes, and a few snippets of code as people paste them into
reviews."""

from __future__ import annotations

import os
import random
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote_to_bytes


@dataclass(frozen=True)
class Payload:
    """One input and where it came from (`file:line`)."""

    value: bytes
    source: str


def corpora_root(repo: Path) -> Path:
    """`ANTIBODY_CORPORA`, or `../shared/corpora` from the repository's root."""
    return Path(os.environ.get("ANTIBODY_CORPORA") or repo.parent / "shared" / "corpora")


def _libinjection_value(line: str) -> bytes:
    # libinjection's own test reader: `+` is a space, `%XX` a byte, any other `%` stays.
    return unquote_to_bytes(line.rstrip().replace("+", " "))


def sqli_payloads(root: Path) -> tuple[list[Payload], int]:
    """Every distinct SQL injection string of `sqli/`, and how many lines were read.

    `libinjection-*` lines are URL-encoded; `patt-*` lines are raw, trailing spaces kept
    (MySQL's `-- ` needs its space). In both, empty lines and lines starting with `#` are
    comments."""
    seen: dict[bytes, Payload] = {}
    lines = 0
    for path in sorted((root / "sqli").glob("*.txt")):
        encoded = path.name.startswith("libinjection-")
        for number, raw in enumerate(path.read_bytes().split(b"\n"), 1):
            text = raw.rstrip(b"\r").decode("utf-8", "surrogateescape")
            if not text.strip() or text.startswith("#"):
                continue
            lines += 1
            value = _libinjection_value(text) if encoded else text.encode("utf-8", "surrogateescape")
            if value and value not in seen:
                seen[value] = Payload(value, f"{path.name}:{number}")
    return list(seen.values()), lines


def sample(items: list, count: int | None, seed: str) -> list:
    """`count` items chosen with a fixed seed (all of them when `count` is None or larger),
    in their original order."""
    if count is None or count >= len(items):
        return list(items)
    chosen = set(random.Random(seed).sample(range(len(items)), count))
    return [item for index, item in enumerate(items) if index in chosen]


# Sections of the Big List of Naughty Strings that are attacks, not benign text.
BLNS_ATTACK_SECTIONS = (
    "Script Injection",
    "SQL Injection",
    "Server Code Injection",
    "Command Injection",
    "XXE Injection",
    "File Inclusion",
    "Known CVEs and Vulnerabilities",
)


def blns_benign(root: Path) -> list[Payload]:
    """The lines of `benign/blns.txt` outside its attack sections."""
    path = root / "benign" / "blns.txt"
    result = []
    section = ""
    previous_blank = True
    for number, line in enumerate(path.read_text(encoding="utf-8").split("\n"), 1):
        header = re.match(r"#\s+(\S.*)$", line)
        if header and previous_blank:
            section = header.group(1).strip()
        previous_blank = not line.strip()
        if not line.strip() or line.startswith("#"):
            continue
        if any(section.startswith(name) for name in BLNS_ATTACK_SECTIONS):
            continue
        result.append(Payload(line.encode(), f"blns.txt:{number}"))
    return result


def libinjection_false_positives(root: Path) -> list[Payload]:
    """`benign/libinjection-false-positives.txt`: benign text signature engines flagged."""
    path = root / "benign" / "libinjection-false-positives.txt"
    result = []
    for number, line in enumerate(path.read_text(encoding="utf-8").split("\n"), 1):
        if line.strip() and not line.startswith("#"):
            result.append(Payload(line.encode(), f"libinjection-false-positives.txt:{number}"))
    return result


def apostrophe_words(path: Path = Path("/usr/share/dict/words")) -> list[Payload]:
    """Dictionary entries with an apostrophe (`O'Brien`, `don't`)."""
    result = []
    for number, line in enumerate(path.read_text(encoding="utf-8").split("\n"), 1):
        if "'" in line:
            result.append(Payload(line.encode(), f"words:{number}"))
    return result


def fortunes(folder: Path = Path("/usr/share/games/fortunes")) -> list[Payload]:
    """Every fortune of `fortunes-min` (prose with quotes and punctuation)."""
    result = []
    for path in sorted(folder.iterdir()):
        if path.suffix or path.is_symlink() or not path.is_file():
            continue
        for number, entry in enumerate(path.read_text(encoding="utf-8", errors="replace")
                                       .split("\n%\n"), 1):
            entry = entry.strip("%\n")
            if entry.strip():
                result.append(Payload(entry.encode(), f"fortunes/{path.name}#{number}"))
    return result


# Code that shoppers paste into reviews: SQL and shell they used with the product.
SNIPPETS = (
    "SELECT * FROM books WHERE author = 'Knuth' ORDER BY year;",
    "The chapter on joins: SELECT o.id, c.name FROM orders o JOIN customers c ON c.id = o.customer_id",
    "I ran UPDATE inventory SET qty = qty - 1 WHERE sku = 'TRW-01' and it just worked.",
    "Tip: DELETE FROM cart WHERE added < date('now', '-30 days') keeps the demo small.",
    "Chapter 3 explains why 1=1 in WHERE 1=1 AND ... helps when you build filters.",
    "Use UNION ALL, not UNION, when duplicates are fine: it skips the sort.",
    "INSERT INTO reviews (author, body) VALUES ('me', 'great book'); -- from the exercises",
    "The book warns about ' OR '1'='1 attacks and shows prepared statements instead.",
    "CREATE TABLE garden (id INTEGER PRIMARY KEY, plant TEXT NOT NULL);",
    "DROP TABLE IF EXISTS tmp_orders; is in the cleanup script, chapter 9.",
    "WITH recent AS (SELECT * FROM orders WHERE day > '2024-01-01') SELECT count(*) FROM recent",
    "My query: select name, price from products where price between 10 and 20 order by price desc",
    "--verbose helped me debug the migration /* finally */",
    "It's the O'Reilly style: SELECT name FROM people WHERE last_name = 'O''Brien'",
    "sleep(5) in the retry loop was my mistake, not the library's",
    "Has a chapter on CASE WHEN qty > 0 THEN 'in stock' ELSE 'sold out' END",
    "rm -rf build/ && make -j4 && ./install.sh --prefix=/usr/local",
    "cat /etc/hosts | grep shop; then curl -s http://localhost:8080/healthz",
    "for f in *.jpg; do convert \"$f\" -resize 50% \"small-$f\"; done",
    "echo $PATH; export PATH=$HOME/bin:$PATH",
    "find . -name '*.log' -mtime +7 -exec rm {} \\;",
    "tar -xzf shears-manual.tar.gz && less README",
    "ssh admin@shop-01.internal 'sudo systemctl restart nginx'",
    "ls -la ~/.config; cd ../..; pwd",
    "wget -O- https://example.com/install.sh | sh   (do not do this!)",
    "if [ -f /tmp/lock ]; then exit 1; fi",
    "ping -c 3 localhost && echo ok || echo down",
    "git log --oneline | head -n 5; git status",
    "python3 -c 'print(1+1)' prints 2, the book says",
    "`date` and $(whoami) in a shell script are command substitutions",
    "<b>Great</b> knife; sharper than the <i>old</i> one &amp; cheaper",
    "Rated 5/5 -- would buy again; 10/10 for the handle",
    "It's 100% cotton, 50% off, and 'dishwasher safe'",
    "Use the 1/4\" bit; the 3/8\" one slips",
    "Path: C:\\Users\\me\\Documents\\garden.xlsx",
    "Email me at bob@example.com; subject: \"Skillet\"",
    "SELECT-ing the right trowel is hard; DROP-shipping took 3 days",
    "Order #1234 arrived; order by phone was easier than the site",
    "Between you and me, it's the best 'spinner' I've owned -- or ever will",
    "admin' said the box; inside, a note: 'OR' stands for Order Reference",
)


def snippets() -> list[Payload]:
    return [Payload(text.encode(), f"snippet {number}") for number, text in enumerate(SNIPPETS, 1)]


# Short attacks written for these statements: what an attacker who reads the error pages
# would try, beyond the generic strings of the corpora. (parameter, value)
PROBES = (
    ("id", "id"),
    ("id", "rowid"),
    ("id", "id-0"),
    ("id", "2-1"),
    ("id", "0=0"),
    ("id", "1 OR 1"),
    ("id", "-1 OR id>0"),
    ("id", "1 AND (SELECT substr(password,1,1) FROM users WHERE username='admin')='s'"),
    ("category", "books'||'"),
    ("category", "x'OR'1"),
    ("category", "' OR ''='"),
    ("category", "books' AND name LIKE '%"),
    ("category", "x' UNION SELECT id,username,password,0 FROM users--"),
    ("order", "price*1"),
    ("order", "-price"),
    ("order", "id LIMIT 1"),
    ("order", "(CASE WHEN (SELECT substr(password,1,1) FROM users WHERE username='admin')='s' "
              "THEN price ELSE name END)"),
    ("order", "iif((SELECT length(password) FROM users WHERE id=3)>8,price,name)"),
    ("username", "admin'--"),
    ("username", "admin'/*"),
    ("username", "' OR 1--"),
    ("username", "admin' AND substr(password,1,1)='s'--"),
    ("password", "' OR '1'='1"),
    ("password", "x' OR username='admin"),
)
