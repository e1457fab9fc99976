"""Tests of how a sqlmap run is read and judged, on output sqlmap 1.10.10 wrote against
vulnshop: `python3 -m unittest eval.test_sqlmap`."""

import tempfile
import unittest
from pathlib import Path

from . import sqlmap

# The end of sqlmap's console with the agent off; its `log` file holds the block between
# the `---` lines.
FOUND_CONSOLE = """\
[19:28:02] [INFO] GET parameter 'category' is 'Generic UNION query (NULL) - 1 to 20 columns' injectable
GET parameter 'category' is vulnerable. Do you want to keep testing the others (if any)? [y/N] N
sqlmap identified the following injection point(s) with a total of 53 HTTP(s) requests:
---
Parameter: category (GET)
    Type: boolean-based blind
    Title: AND boolean-based blind - WHERE or HAVING clause
    Payload: category=books' AND 5990=5990 AND 'MQxz'='MQxz

    Type: error-based
    Title: SQLite >= 3.9 AND error-based - WHERE, HAVING, ORDER BY or GROUP BY clause (JSON path)
    Payload: category=books' AND 3691=JSON_EXTRACT(CHAR(123,125),CHAR(113,122,122,122,113)||(SELECT (CASE WHEN (3691=3691) THEN 1 ELSE 0 END))||CHAR(113,98,106,98,113)) AND 'bcQQ'='bcQQ

    Type: time-based blind
    Title: SQLite > 2.0 AND time-based blind (heavy query)
    Payload: category=books' AND 1040=LIKE(CHAR(65,66,67,68,69,70,71),UPPER(HEX(RANDOMBLOB(100000000/2)))) AND 'RVeH'='RVeH

    Type: UNION query
    Title: Generic UNION query (NULL) - 4 columns
    Payload: category=books' UNION ALL SELECT NULL,CHAR(113,122,122,122,113)||CHAR(113,98,106,98,113),NULL,NULL-- aWHk
---
[19:28:02] [INFO] the back-end DBMS is SQLite
back-end DBMS: SQLite
"""
FOUND_LOG = FOUND_CONSOLE.split("requests:\n", 1)[1].split("[19:28:02] [INFO] the", 1)[0]

# In protect mode: sqlmap's verdict, after a WAF check it did not pass.
NOT_FOUND_CONSOLE = """\
[19:28:08] [INFO] checking if the target is protected by some kind of WAF/IPS
[19:29:23] [WARNING] POST parameter 'username' does not seem to be injectable
[19:29:23] [CRITICAL] all tested parameters do not appear to be injectable. Try to increase values for '--level'/'--risk' options if you wish to perform more tests.
[19:29:23] [WARNING] HTTP error codes detected during run:
401 (Unauthorized) - 49 times, 403 (Forbidden) - 46 times
"""
WAF_CONSOLE = """\
[19:28:08] [INFO] checking if the target is protected by some kind of WAF/IPS
[19:28:08] [CRITICAL] heuristics detected that the target is protected by some kind of WAF/IPS
are you sure that you want to continue with further target testing? [Y/n] Y
"""

SEPARATOR = "\n\n" + "#" * 76 + "\n\n"


def exchange(number: int, body: str, response: str) -> str:
    """One request/response pair as sqlmap's traffic file holds it (CRLF in the headers)."""
    request = (f"HTTP request [#{number}]:\r\nPOST /login HTTP/1.1\r\nHost: localhost\r\n"
               f"Content-Type: application/x-www-form-urlencoded; charset=utf-8\r\n\r\n{body}\r\n")
    return request + ("\n" + response if response else "")


UNAUTHORIZED = ("HTTP response [#1] (401 Unauthorized):\r\ncontent-type: text/html; "
                "charset=utf-8\r\ncontent-length: 153\r\nURI: http://127.0.0.1:41657/login\r\n\r\n"
                "<body><h1>Error</h1>\nwrong username or password\n</body></html>\n")
BLOCKED = ("HTTP response [#2] (403 Forbidden):\r\ncontent-type: text/html; charset=utf-8\r\n"
           "x-antibody-event: 27d16df42d000000\r\ncontent-length: 229\r\n"
           "URI: http://127.0.0.1:41657/login\r\n\r\n<h1>Request blocked</h1>\n"
           "<p>Event id: <code>27d16df42d000000</code></p>\n")
# A 403 whose body, not its headers, names an event id: it does not count as the agent's.
NGINX = ("HTTP response [#3] (403 Forbidden):\r\nServer: nginx/1.22.1\r\n"
         "Content-Type: text/html\r\n\r\n<h1>403 Forbidden</h1>\nx-antibody-event: 1\n")
TRAFFIC = SEPARATOR.join([
    exchange(1, "username=alice&password=x", UNAUTHORIZED),
    exchange(2, "username=alice.%28%28..%27%2C%22%29%28&password=x", BLOCKED),
    exchange(3, "username=alice%27&password=x", NGINX),
    exchange(4, "username=alice%27%29&password=x", ""),
]) + SEPARATOR

EVENTS = {"27d16df42d000000": {"id": "27d16df42d000000", "kind": "sql_injection",
                               "action": "blocked"}}


class RunFolders(unittest.TestCase):
    """Writes runs' folders as `eval.sqlmap.run_one` leaves them, and reads them back."""

    def setUp(self):
        temporary = tempfile.TemporaryDirectory(prefix="test-sqlmap-")
        self.addCleanup(temporary.cleanup)
        self.root = Path(temporary.name)
        self.count = 0

    def observed(self, system: str, param: str, console: str, log: str,
                 traffic: str = TRAFFIC, status: int = 0) -> dict:
        self.count += 1
        folder = self.root / str(self.count)
        (folder / "output" / "127.0.0.1").mkdir(parents=True)
        (folder / "console.txt").write_text(console)
        (folder / "traffic.txt").write_text(traffic, newline="")
        (folder / "output" / "127.0.0.1" / "log").write_text(log)
        run = sqlmap.observe(folder, status, EVENTS)
        run.update(system=system, param=param)
        return run


class Reading(RunFolders):
    def test_injection_points_carry_their_techniques(self):
        self.assertEqual(sqlmap.injection_points(FOUND_CONSOLE), {
            "category": ["boolean-based blind", "error-based", "time-based blind",
                         "UNION query"]})

    def test_no_injection_point_in_a_not_injectable_verdict(self):
        self.assertEqual(sqlmap.injection_points(NOT_FOUND_CONSOLE), {})

    def test_every_exchange_with_its_status_and_event_header(self):
        self.assertEqual(sqlmap.exchanges(TRAFFIC), [
            (401, None), (403, "27d16df42d000000"), (403, None), (None, None)])

    def test_a_403_is_explained_by_its_event(self):
        self.assertEqual(sqlmap.forbidden_reason("27d16df42d000000", EVENTS),
                         sqlmap.BLOCKED_INJECTION)
        self.assertEqual(sqlmap.forbidden_reason(None, EVENTS), sqlmap.NO_EVENT)
        self.assertEqual(sqlmap.forbidden_reason("feed", EVENTS), sqlmap.UNKNOWN_EVENT)

    def test_observe_reads_a_runs_folder(self):
        run = self.observed("protect", "username", NOT_FOUND_CONSOLE, "")
        self.assertEqual((run["requests"], run["unanswered"], run["forbidden"]), (4, 1, 2))
        self.assertEqual(run["forbidden_by"],
                         {sqlmap.BLOCKED_INJECTION: 1, sqlmap.NO_EVENT: 1})
        self.assertTrue(run["said_not_injectable"])
        self.assertFalse(run["saw_waf"])
        self.assertTrue(self.observed("waf", "category", WAF_CONSOLE, "")["saw_waf"])


class Judging(RunFolders):
    def test_found_with_the_agent_off(self):
        run = self.observed("off", "category", FOUND_CONSOLE, FOUND_LOG, traffic=SEPARATOR.join(
            [exchange(1, "username=alice&password=x", UNAUTHORIZED)]))
        self.assertTrue(sqlmap.injectable(run))
        self.assertEqual(sqlmap.techniques(run)[0], "boolean-based blind")
        self.assertEqual(sqlmap.problems(run), [])

    def test_off_mode_must_find_the_parameter(self):
        run = self.observed("off", "category", NOT_FOUND_CONSOLE, "")
        self.assertIn("sqlmap did not find `category` injectable with the agent off",
                      sqlmap.problems(run))

    def test_the_console_and_the_log_must_agree(self):
        run = self.observed("off", "category", FOUND_CONSOLE, "")
        self.assertFalse(sqlmap.injectable(run))
        self.assertTrue(any("but its log does not" in p for p in sqlmap.problems(run)))

    def test_protect_mode_must_find_nothing(self):
        run = self.observed("protect", "category", FOUND_CONSOLE, FOUND_LOG)
        self.assertIn("sqlmap found `category` injectable through the agent",
                      sqlmap.problems(run))

    def test_every_403_in_protect_mode_must_be_a_blocked_injection(self):
        run = self.observed("protect", "username", NOT_FOUND_CONSOLE, "")
        self.assertEqual(sqlmap.problems(run), [
            f"1 403(s) with {sqlmap.NO_EVENT}, not a blocked sql_injection"])

    def test_a_run_cut_short_proves_nothing(self):
        run = self.observed("waf", "category", WAF_CONSOLE, "", status=124)
        self.assertEqual(sqlmap.problems(run), ["sqlmap did not finish (exit status 124)"])

    def test_behind_the_waf_a_finding_is_a_result(self):
        run = self.observed("waf", "category", FOUND_CONSOLE, FOUND_LOG)
        self.assertTrue(sqlmap.injectable(run))
        self.assertEqual(sqlmap.problems(run), [])


if __name__ == "__main__":
    unittest.main()
